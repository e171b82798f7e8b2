"""ftbench: compare fine-tuning methods side by side, measured on the same tasks and hardware."""

# Bump when a change alters the numbers a cell produces; it is part of every cell id.
CODE_VERSION = "2"
