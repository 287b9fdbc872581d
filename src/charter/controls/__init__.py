"""Controls: the control library (preventive, proactive, detective), enablement, findings."""
