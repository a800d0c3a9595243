/* Generators for the bit-manipulation and atomic families (filled in below). */
#include "diff.h"

const struct family families_bits[] = {
    {0},
};
