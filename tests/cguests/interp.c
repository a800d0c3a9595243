/* interp.c - a bytecode interpreter, dispatched twice over: a switch (a jump table: indirect
 * JMP through memory) and computed goto (GNU labels as values: an indirect JMP per opcode),
 * running small programs (primes, Collatz, gcd, a recursive Fibonacci through CALL/RET) whose
 * results and instruction counts must agree between the two and with the host. */
#include "rt.h"

enum op {
	PUSH, LOAD, STORE, ADD, SUB, MUL, DIV, MOD, LT, EQ, JMP, JZ, JNZ, DUP, DROP, SWAP,
	CALL, RET, LDI, STI, PRINT, HALT, NOPS,
};

struct vm {
	int64_t stack[256];
	int64_t vars[16];
	int64_t mem[4096];
	int ret[64];
	int sp, rp;
	uint64_t steps;
	uint64_t out;		/* hash of PRINTed values */
	int printed;
};

static void vm_print(struct vm *m, int64_t v)
{
	m->out = m->out * 1000003 + (uint64_t)v;
	if (m->printed++ < 8)
		rt_printf(" %ld", (long)v);
}

/* Switch dispatch: code is pairs (op, arg). */
static void run_switch(struct vm *m, const int *code)
{
	int pc = 0;

	for (;;) {
		int op = code[pc], arg = code[pc + 1];
		int64_t a, b;

		pc += 2;
		m->steps++;
		switch (op) {
		case PUSH: m->stack[m->sp++] = arg; break;
		case LOAD: m->stack[m->sp++] = m->vars[arg]; break;
		case STORE: m->vars[arg] = m->stack[--m->sp]; break;
		case ADD: b = m->stack[--m->sp]; m->stack[m->sp - 1] += b; break;
		case SUB: b = m->stack[--m->sp]; m->stack[m->sp - 1] -= b; break;
		case MUL: b = m->stack[--m->sp]; m->stack[m->sp - 1] *= b; break;
		case DIV: b = m->stack[--m->sp]; m->stack[m->sp - 1] /= b; break;
		case MOD: b = m->stack[--m->sp]; m->stack[m->sp - 1] %= b; break;
		case LT: b = m->stack[--m->sp]; a = m->stack[m->sp - 1]; m->stack[m->sp - 1] = a < b; break;
		case EQ: b = m->stack[--m->sp]; a = m->stack[m->sp - 1]; m->stack[m->sp - 1] = a == b; break;
		case JMP: pc = arg; break;
		case JZ: if (!m->stack[--m->sp]) pc = arg; break;
		case JNZ: if (m->stack[--m->sp]) pc = arg; break;
		case DUP: m->stack[m->sp] = m->stack[m->sp - 1]; m->sp++; break;
		case DROP: m->sp--; break;
		case SWAP: a = m->stack[m->sp - 1]; m->stack[m->sp - 1] = m->stack[m->sp - 2]; m->stack[m->sp - 2] = a; break;
		case CALL: m->ret[m->rp++] = pc; pc = arg; break;
		case RET: pc = m->ret[--m->rp]; break;
		case LDI: m->stack[m->sp - 1] = m->mem[m->stack[m->sp - 1]]; break;
		case STI: a = m->stack[--m->sp]; b = m->stack[--m->sp]; m->mem[a] = b; break;
		case PRINT: vm_print(m, m->stack[--m->sp]); break;
		case HALT: return;
		default: rt_printf("bad op %d\n", op); return;
		}
	}
}

/* Computed-goto dispatch of the same code. */
static void run_goto(struct vm *m, const int *code)
{
	static void *const labels[NOPS] = {
		[PUSH] = &&l_push, [LOAD] = &&l_load, [STORE] = &&l_store, [ADD] = &&l_add,
		[SUB] = &&l_sub, [MUL] = &&l_mul, [DIV] = &&l_div, [MOD] = &&l_mod, [LT] = &&l_lt,
		[EQ] = &&l_eq, [JMP] = &&l_jmp, [JZ] = &&l_jz, [JNZ] = &&l_jnz, [DUP] = &&l_dup,
		[DROP] = &&l_drop, [SWAP] = &&l_swap, [CALL] = &&l_call, [RET] = &&l_ret,
		[LDI] = &&l_ldi, [STI] = &&l_sti, [PRINT] = &&l_print, [HALT] = &&l_halt,
	};
	int pc = 0, arg;
	int64_t a, b;

#define NEXT do { arg = code[pc + 1]; m->steps++; pc += 2; goto *labels[code[pc - 2]]; } while (0)
	NEXT;
l_push: m->stack[m->sp++] = arg; NEXT;
l_load: m->stack[m->sp++] = m->vars[arg]; NEXT;
l_store: m->vars[arg] = m->stack[--m->sp]; NEXT;
l_add: b = m->stack[--m->sp]; m->stack[m->sp - 1] += b; NEXT;
l_sub: b = m->stack[--m->sp]; m->stack[m->sp - 1] -= b; NEXT;
l_mul: b = m->stack[--m->sp]; m->stack[m->sp - 1] *= b; NEXT;
l_div: b = m->stack[--m->sp]; m->stack[m->sp - 1] /= b; NEXT;
l_mod: b = m->stack[--m->sp]; m->stack[m->sp - 1] %= b; NEXT;
l_lt: b = m->stack[--m->sp]; a = m->stack[m->sp - 1]; m->stack[m->sp - 1] = a < b; NEXT;
l_eq: b = m->stack[--m->sp]; a = m->stack[m->sp - 1]; m->stack[m->sp - 1] = a == b; NEXT;
l_jmp: pc = arg; NEXT;
l_jz: if (!m->stack[--m->sp]) pc = arg; NEXT;
l_jnz: if (m->stack[--m->sp]) pc = arg; NEXT;
l_dup: m->stack[m->sp] = m->stack[m->sp - 1]; m->sp++; NEXT;
l_drop: m->sp--; NEXT;
l_swap: a = m->stack[m->sp - 1]; m->stack[m->sp - 1] = m->stack[m->sp - 2]; m->stack[m->sp - 2] = a; NEXT;
l_call: m->ret[m->rp++] = pc; pc = arg; NEXT;
l_ret: pc = m->ret[--m->rp]; NEXT;
l_ldi: m->stack[m->sp - 1] = m->mem[m->stack[m->sp - 1]]; NEXT;
l_sti: a = m->stack[--m->sp]; b = m->stack[--m->sp]; m->mem[a] = b; NEXT;
l_print: vm_print(m, m->stack[--m->sp]); NEXT;
l_halt: return;
#undef NEXT
}

/* An assembler with labels: L(n) defines label n, jumps name labels until fixed up. */
struct asm_ {
	int code[1024];
	int n;
	int label[32];
	int fix[64], nfix;
};

static void emit(struct asm_ *a, int op, int arg)
{
	if (op == JMP || op == JZ || op == JNZ || op == CALL)
		a->fix[a->nfix++] = a->n + 1;
	a->code[a->n++] = op;
	a->code[a->n++] = arg;
}

static void fixup(struct asm_ *a)
{
	for (int i = 0; i < a->nfix; i++)
		a->code[a->fix[i]] = a->label[a->code[a->fix[i]]];
}

#define E(op, arg) emit(a, op, arg)
#define L(lbl) (a->label[lbl] = a->n)

/* primes below 3000 by a sieve in mem[]; prints each prime, then the count */
static void prog_sieve(struct asm_ *a)
{
	enum { I, J, CNT, N = 3000 };

	E(PUSH, 0); E(STORE, CNT);
	E(PUSH, 2); E(STORE, I);
	L(0);	E(LOAD, I); E(PUSH, N); E(LT, 0); E(JZ, 9);
	E(LOAD, I); E(LDI, 0); E(JNZ, 2);		/* marked: not prime */
	E(LOAD, I); E(PRINT, 0);
	E(LOAD, CNT); E(PUSH, 1); E(ADD, 0); E(STORE, CNT);
	E(LOAD, I); E(LOAD, I); E(MUL, 0); E(STORE, J);
	L(1);	E(LOAD, J); E(PUSH, N); E(LT, 0); E(JZ, 2);
	E(PUSH, 1); E(LOAD, J); E(STI, 0);
	E(LOAD, J); E(LOAD, I); E(ADD, 0); E(STORE, J); E(JMP, 1);
	L(2);	E(LOAD, I); E(PUSH, 1); E(ADD, 0); E(STORE, I); E(JMP, 0);
	L(9);	E(LOAD, CNT); E(PRINT, 0); E(HALT, 0);
}

/* longest Collatz chain below 3000, and gcd(a, b) summed over a grid */
static void prog_collatz_gcd(struct asm_ *a)
{
	enum { N, X, LEN, BEST, BESTN, A, B, SUM };

	E(PUSH, 0); E(STORE, BEST);
	E(PUSH, 1); E(STORE, N);
	L(0);	E(LOAD, N); E(PUSH, 3000); E(LT, 0); E(JZ, 5);
	E(LOAD, N); E(STORE, X); E(PUSH, 0); E(STORE, LEN);
	L(1);	E(LOAD, X); E(PUSH, 1); E(EQ, 0); E(JNZ, 3);
	E(LOAD, LEN); E(PUSH, 1); E(ADD, 0); E(STORE, LEN);
	E(LOAD, X); E(PUSH, 2); E(MOD, 0); E(JZ, 2);
	E(LOAD, X); E(PUSH, 3); E(MUL, 0); E(PUSH, 1); E(ADD, 0); E(STORE, X); E(JMP, 1);
	L(2);	E(LOAD, X); E(PUSH, 2); E(DIV, 0); E(STORE, X); E(JMP, 1);
	L(3);	E(LOAD, BEST); E(LOAD, LEN); E(LT, 0); E(JZ, 4);
	E(LOAD, LEN); E(STORE, BEST); E(LOAD, N); E(STORE, BESTN);
	L(4);	E(LOAD, N); E(PUSH, 1); E(ADD, 0); E(STORE, N); E(JMP, 0);
	L(5);	E(LOAD, BESTN); E(PRINT, 0); E(LOAD, BEST); E(PRINT, 0);
	/* gcd by remainders over a in -40..39, b in 1..60 (negative remainders too) */
	E(PUSH, 0); E(STORE, SUM); E(PUSH, -40); E(STORE, A);
	L(6);	E(LOAD, A); E(PUSH, 40); E(LT, 0); E(JZ, 10);
	E(PUSH, 1); E(STORE, B);
	L(7);	E(LOAD, B); E(PUSH, 61); E(LT, 0); E(JZ, 9);
	E(LOAD, A); E(LOAD, B);
	L(8);	E(DUP, 0); E(JZ, 11);				/* [a b] -> [b a%b] */
	E(STORE, X); E(LOAD, X); E(MOD, 0); E(LOAD, X); E(SWAP, 0); E(JMP, 8);
	L(11);	E(DROP, 0); E(LOAD, SUM); E(ADD, 0); E(STORE, SUM);
	E(LOAD, B); E(PUSH, 1); E(ADD, 0); E(STORE, B); E(JMP, 7);
	L(9);	E(LOAD, A); E(PUSH, 1); E(ADD, 0); E(STORE, A); E(JMP, 6);
	L(10);	E(LOAD, SUM); E(PRINT, 0); E(HALT, 0);
}

/* fib(n) recursively on the data stack, through CALL/RET: fib(22) and fib(1..15) */
static void prog_fib(struct asm_ *a)
{
	enum { K };

	E(PUSH, 22); E(CALL, 1); E(PRINT, 0);
	E(PUSH, 1); E(STORE, K);
	L(0);	E(LOAD, K); E(CALL, 1); E(PRINT, 0);
	E(LOAD, K); E(PUSH, 1); E(ADD, 0); E(DUP, 0); E(STORE, K);
	E(PUSH, 16); E(LT, 0); E(JNZ, 0); E(HALT, 0);
	/* fib: n -> fib(n) */
	L(1);	E(DUP, 0); E(PUSH, 2); E(LT, 0); E(JNZ, 2);
	E(DUP, 0); E(PUSH, 1); E(SUB, 0); E(CALL, 1);
	E(SWAP, 0); E(PUSH, 2); E(SUB, 0); E(CALL, 1); E(ADD, 0);
	L(2);	E(RET, 0);
}

static struct vm vm;

static void run(const char *name, void (*prog)(struct asm_ *))
{
	static struct asm_ a;
	uint64_t steps = 0, out = 0;

	a = (struct asm_){ 0 };
	prog(&a);
	fixup(&a);
	for (int how = 0; how < 2; how++) {
		vm = (struct vm){ 0 };
		rt_printf("%s (%s):", name, how ? "goto" : "switch");
		if (how)
			run_goto(&vm, a.code);
		else
			run_switch(&vm, a.code);
		rt_printf(" ... %d values, hash %016lx, %lu steps, sp %d\n", vm.printed,
			  (unsigned long)vm.out, (unsigned long)vm.steps, vm.sp);
		if (how && (steps != vm.steps || out != vm.out))
			rt_printf("%s: the two dispatchers disagree\n", name);
		steps = vm.steps;
		out = vm.out;
	}
}

int main(void)
{
	run("sieve", prog_sieve);
	run("collatz+gcd", prog_collatz_gcd);
	run("fib", prog_fib);
	return 0;
}
