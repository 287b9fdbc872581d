"""The end-to-end walkthrough (`make demo`): each step is a real `charter` command."""
