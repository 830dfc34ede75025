/* The wrapper: COMMAND run with libnoselfconn.so in LD_PRELOAD. */
#ifndef NOSELFCONN_WRAPPER_H
#define NOSELFCONN_WRAPPER_H

/* argv with libnoselfconn.so added to LD_PRELOAD. Returns only on failure. */
int nsc_run_preloaded(char **argv);

#endif
