"""Pure rules of SQS semantics: functions of (state, now), no I/O, no clock."""
