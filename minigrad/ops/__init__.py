"""The op families. Each file holds ops of one kind, each op's forward next to its backward."""
