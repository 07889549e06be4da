"""One training step on one device: forward, backward and optimiser, and what it keeps in
memory (``backward`` derives the backward graph, ``memory`` the footprint, ``step`` costs
the three passes on any hardware family)."""
