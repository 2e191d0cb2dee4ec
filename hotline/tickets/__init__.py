"""Tickets (工单): intake, the lifecycle state machine, and who may see what."""
