"""SwAV (Caron et al., 2020): swapped prediction of Sinkhorn-Knopp cluster codes between crops."""
