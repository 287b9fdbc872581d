"""Access: Cedar authorization and the governed operation pipeline every action goes through."""
