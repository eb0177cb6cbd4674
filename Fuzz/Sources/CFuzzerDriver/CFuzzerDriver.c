// SwiftPM needs a source file in a C target; the declaration in the header is all this target provides.
#include "CFuzzerDriver.h"
