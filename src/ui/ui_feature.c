/* The ui feature (make features=ui): the guest's display. It joins the machine through
 * the table in vmm/features.c. */
#include "vmm/features.h"

const struct feature ui_feature = {
	.name = "ui",
};
