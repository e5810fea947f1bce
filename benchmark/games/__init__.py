"""Small games with a known equilibrium, played by the suite's own optimizers and update schemes.

Before an optimizer's numbers on ALI are trusted, it should behave on the bilinear game as the
papers that introduced it say it does: simultaneous gradient descent-ascent spirals out,
alternating cycles, extragradient, optimistic, negative-momentum and lookahead methods converge.
`python -m benchmark.games` plays every method of `METHODS` and writes the figure and tables.
"""
