"""CMC (Tian, Krishnan & Isola, 2020): contrastive multiview coding, one encoder per view."""
