"""Operating the stack on one machine: the plan of services, the supervisor, up/down/status/logs."""
