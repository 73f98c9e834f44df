"""Neural-network blocks shared by several models (CBAM, FPN, residual channel attention,
transformer encoder layers, hypernetwork target net).  One implementation per block."""
