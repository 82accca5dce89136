"""The Lambda API (REST-JSON) front end: functions, invocations, event source mappings."""
