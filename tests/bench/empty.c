/* A shared object that does nothing: the floor any preload costs at start-up. */
int noselfconn_bench_empty;
