"""labsupport: the helper package of the AWS container-deployment workbook."""

__version__ = "0.1.0"
