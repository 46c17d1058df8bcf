"""Training: the fused in-graph loop, Keras callbacks around it, tf.distribute strategies and
their watchdog, and class weights."""
