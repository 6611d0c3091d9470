"""The lint service: isort + black for notebook cells and Python files, IPython magics masked."""
