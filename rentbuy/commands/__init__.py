"""One module per CLI subcommand; each exposes ``register(subparsers)`` and keeps heavy imports
(pandas, scipy, matplotlib) inside its ``run`` so ``rentbuy --help`` stays fast."""
