"""Copy detection: views that see parts of pictures, local features and their verification."""
