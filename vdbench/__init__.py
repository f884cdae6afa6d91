"""vdbench: trace value drift during LLM post-training."""
__version__ = "0.1.0"
