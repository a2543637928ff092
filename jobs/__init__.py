"""Work that runs unattended: price refresh, the weekly report, the scheduler service."""
