"""Organisation: the OU tree, accounts, blueprints and account vending."""
