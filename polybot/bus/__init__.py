"""The bus: the wire contract (messages, codec) and the NNG transport. Never imports services."""
