"""The state service: answers queries and audited commands on ``bus.state_req``."""
