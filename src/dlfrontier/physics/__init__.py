"""Label-free supervision from physics and logic (Stewart & Ermon, AAAI 2017).

A network learns a quantity it is never shown (a falling ball's height, a walking figure's position, whether
two characters are in a picture) from constraints the outputs must obey: free fall is a parabola with known
acceleration, walking is at constant velocity, Peach appears only with Mario. :mod:`.data` renders the scenes,
:mod:`.constraints` holds the losses, :mod:`.models` the per-frame CNN, :mod:`.training` the loops and
:mod:`.evaluation` the scores (correlation, error after the best affine fit) and figures.
"""

from dlfrontier.physics.constraints import (
    causal_loss,
    constant_velocity_loss,
    free_curvature_loss,
    free_fall_loss,
    implication_loss,
    parabola_projection,
    polynomial_projection,
    walking_loss,
)
from dlfrontier.physics.data import make_causal, make_free_fall, make_walking
from dlfrontier.physics.models import FrameNet

__all__ = ["FrameNet", "causal_loss", "constant_velocity_loss", "free_curvature_loss", "free_fall_loss",
           "implication_loss", "make_causal", "make_free_fall", "make_walking", "parabola_projection",
           "polynomial_projection", "walking_loss"]
