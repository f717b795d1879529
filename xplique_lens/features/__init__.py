"""Feature visualization (MACO, Fourier), objectives and visualization metrics."""
