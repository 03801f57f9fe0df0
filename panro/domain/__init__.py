"""What the programme is about, independent of files and engines: the feed contracts (the centre of the
pipeline), business registration numbers, regions, and the figures the agency announced."""
