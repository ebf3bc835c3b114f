"""ViT (Dosovitskiy et al., 2021), supervised on the hard digits."""
