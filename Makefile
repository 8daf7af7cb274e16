# The two commands: `make lab` and `make test`. Both bootstrap first (idempotent, fast when warm).
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/.cache/tools:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# With it, Python reads each piped (pipelined) Ansible module one byte per system call: 0.1-0.2 s
# more per module run. Ansible flushes its own output, so nothing needs it here.
unexport PYTHONUNBUFFERED
PYTHON := $(CURDIR)/.venv/bin/python
S ?= lab

.PHONY: bootstrap lab lab-down lab-vm lab-vm-down test test-unit test-integration lint sanity molecule bench

bootstrap:
	@scripts/bootstrap

lab: bootstrap
	ansible-playbook site.yml

lab-down: bootstrap
	ansible-playbook playbooks/lab-down.yml

# The same stages with the worker as a qemu VM (cgroup v2, privileged, XFS quota, AppArmor).
lab-vm: bootstrap
	ansible-playbook -i inventory/lab-vm site.yml

lab-vm-down: bootstrap
	ansible-playbook -i inventory/lab-vm playbooks/lab-down.yml

test: bootstrap
	@$(PYTHON) scripts/run-tests

test-unit: bootstrap
	@$(PYTHON) scripts/run-tests unit

test-integration: bootstrap
	@$(PYTHON) scripts/run-tests integration

lint: bootstrap
	@$(PYTHON) scripts/run-tests lint

# ansible-test sanity on the collection (scripts/sanity); one test: make sanity T=pylint
sanity: bootstrap
	@$(PYTHON) scripts/run-tests sanity$(if $(T),:$(T))

molecule: bootstrap
	@$(PYTHON) scripts/run-tests molecule:$(S)

bench: bootstrap
	@bench/run $(B)
