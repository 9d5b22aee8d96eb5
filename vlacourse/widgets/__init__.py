"""Every course widget and live plot: the one pattern (controls that redraw a picture) and the widgets
of notebooks 05, 07 and 08. Model code imports nothing from here."""
