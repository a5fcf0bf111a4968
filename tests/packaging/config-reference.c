/* Prints the module's argument table (config_print_reference(): every key,
 * its default and meaning) for tests/packaging/test_docs.py, which checks
 * that libpipewire-module-transcribe(7) documents each one. */
#include <stdio.h>

#include "config.h"

int main(void)
{
	config_print_reference(stdout);
	return 0;
}
