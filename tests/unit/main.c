// SPDX-License-Identifier: GPL-2.0-or-later
int gp_check_main(const char *suite_name);
int main(void)
{
	return gp_check_main("unit");
}
