"""AMIs: registering, describing and deregistering images, their attributes, copies,
lineage, lifecycle states, launch permissions, block public access and Allowed AMIs."""
