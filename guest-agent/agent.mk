# guest-agent/agent.mk - the code that runs inside the guest.
#
# Every byte guestpatch writes into a guest kernel's code comes from
# guest-agent/src/*.S, assembled here with the guest kernel's
# code-generation flags into one relocatable object, $(O)/guest-agent/agent.o.
# The host never links it with ld: the object is embedded as data
# (_binary_agent_o_start/_end) and patch/lp_agent.c links its sections
# ("pieces") at guest addresses with the project's own loader, patch/lp_elf.c.
#
# Included by the top Makefile after LIB_OBJS/SAN_OBJS are defined; adds the
# embedded object to both.  Defines no default goal: whatever the including
# Makefile had (or its next target) stays the default.

agent_saved_goal := $(.DEFAULT_GOAL)

AGENT_SRCS := $(wildcard guest-agent/src/*.S)
AGENT_PARTS := $(AGENT_SRCS:guest-agent/src/%.S=$(O)/guest-agent/%.o)
AGENT_OBJ := $(O)/guest-agent/agent.o
AGENT_BLOB := $(O)/guest-agent/agent_blob.o

# As the kernel builds its own code: no PIC, kernel code model, no red zone
# (interrupts run on the same stack), no host headers.  The preprocessor
# sees only guest-agent/include.
AGENT_ASFLAGS := -m64 -mcmodel=kernel -fno-pic -mno-red-zone -nostdinc \
	-Iguest-agent/include -Wa,--fatal-warnings -Wa,--noexecstack

$(O)/guest-agent/%.o: guest-agent/src/%.S
	$(call msg,AS-GST,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(AGENT_ASFLAGS) -MMD -MP -c -o $@ $<

# One object with every piece; ld -r keeps each piece's section apart.
$(AGENT_OBJ): $(AGENT_PARTS)
	$(call msg,LD-GST,$@)
	$(Q)$(LD) -r -o $@ $^

# Embedded read-only; run from the output directory so that the symbols
# are _binary_agent_o_* whatever $(O) is.
$(AGENT_BLOB): $(AGENT_OBJ)
	$(call msg,EMBED,$@)
	$(Q)cd $(dir $@) && $(LD) -r -b binary -z noexecstack -o $(notdir $@) $(notdir $<)
	$(Q)objcopy --rename-section .data=.rodata,alloc,load,readonly,data,contents $@

LIB_OBJS += $(AGENT_BLOB)
SAN_OBJS += $(AGENT_BLOB)

.PHONY: clean-agent
clean: clean-agent
clean-agent:
	rm -rf $(O)/guest-agent

.DEFAULT_GOAL := $(agent_saved_goal)
