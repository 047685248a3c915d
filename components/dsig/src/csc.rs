//! CSC API v2 client (see below).
