"""The duty console (值班台): a web application over the warehouse for duty staff."""
