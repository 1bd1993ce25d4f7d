"""Network & Security, as the EC2 console groups it: VPCs, subnets, security
groups, key pairs, and where an instance sits on the network."""
