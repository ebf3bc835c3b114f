"""MAE (He et al., 2022), masked-autoencoder pre-training of the shared ViT on unlabelled hard digits."""
