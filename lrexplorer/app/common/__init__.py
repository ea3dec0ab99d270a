"""What several pages share.

- `page_state`: the one state model of every page: its settings in a session-state namespace and in the address.
- `field_widgets`: the one Field-to-widget factory, its help text, and a widget value's conversions (URL included).
- `run_state`: the run form's values (the Train page's settings), filled from a config; one field's input.
- `run_form`: the run form (Train page, Tune page): its groups as expanders.
- `run_form_dist`: the run form's "Processes and sharding" section.
- `schedule_inputs`: what a user types (form, JSON, URL query) turned into schedule inputs.
- `schedule_view`: what is shown about a schedule's curve: its drawable points, summary and caveats.
- `widgets`: small helpers (cached curve views, errors and notes, cached hardware and machine facts).
- `run_actions`: the server-wide feeds that read run folders, shared by the Train and Runs pages.
- `run_chat`: chatting with a finished run's model, and comparing two models on one prompt.
- `schedule_match`: the schedule a run's logged LRs follow, recognised in the background and drawn over them.
- `sidebar`: the sidebar of every page: what this machine has.
- `roles`: who may act in a class session (the teacher's token) and the check every action makes.
"""
