"""What is trained and how: the GAN and its step, the loop and its periodic tasks,
checkpoints and resume, distributed runs, preemption, random streams, the remedies that
change a step (unrolling, class conditioning) and the sample figures. It receives built
objects and plain config values; it imports the leaves (tracking among them) and core,
never config, the commands, the analysis of finished runs or the uses of a trained
generator."""
