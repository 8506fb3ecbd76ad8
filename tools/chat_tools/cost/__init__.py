"""`make cost`: the stack's monthly bill at a rate, packed or one event a
record, from a run's measurements and list prices (model.py, prices.json)."""
