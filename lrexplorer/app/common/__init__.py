"""What several pages share.

- `run_inputs`: one widget per catalogue field of the run form, its key and help, value conversions.
- `run_form`: the run form (Train page, Tune page, Guide links): its groups, saved state and loading a config.
- `run_form_dist`: the run form's "Processes and sharding" section.
- `field_widgets`: inputs generated from catalogue fields for the forms that are not the run form.
- `schedule_inputs`: what a user types (form, JSON, URL query) turned into schedule inputs.
- `schedule_view`: what is shown about a schedule's curve: its drawable points, summary and caveats.
- `widgets`: small helpers (schedule argument widgets, cached hardware and machine facts).
- `run_actions`: the server-wide feeds that read run folders, shared by the Train and Runs pages.
- `run_chat`: chatting with a finished run's model, and comparing two models on one prompt.
- `schedule_match`: the schedule a run's logged LRs follow, recognised in the background and drawn over them.
- `sidebar`: the sidebar of every page: what this machine has.
"""
