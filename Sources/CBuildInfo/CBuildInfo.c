// The build facts are in the header, as macros a build may set; SwiftPM needs a source file.
#include "CBuildInfo.h"
