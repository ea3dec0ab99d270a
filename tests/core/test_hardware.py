"""Hardware detection never raises and reports sane numbers."""

from lrexplorer.core.hardware import detect


def test_detect_reports_cpu_and_gpus_without_raising():
    hw = detect()
    assert hw.cpu.logical_cores >= 1 and hw.cpu.total_ram_bytes > 0
    assert 0 < hw.cpu.available_ram_bytes <= hw.cpu.total_ram_bytes
    for gpu in hw.gpus:
        assert gpu.total_bytes > 0 and 0 <= gpu.free_bytes <= gpu.total_bytes and gpu.name
