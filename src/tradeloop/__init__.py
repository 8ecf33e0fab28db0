"""tradeloop: the export loop of cross-border e-commerce exporters, from customs to rebate."""

__version__ = "0.1.0"
