"""InstDisc (Wu et al., 2018): non-parametric instance discrimination with a memory bank and NCE."""
