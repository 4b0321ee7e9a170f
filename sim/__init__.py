"""privtrak.sim: the SimPy swarm simulator that drives the reference core."""
