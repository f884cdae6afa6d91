"""Write the labelled stance sets the probe judge is trained and tested on.

    python scripts/write_stance_sets.py [--seed 13] [--out vdbench/data/stance]

Two sets, written apart on purpose:

* ``train.jsonl`` (~2,200 lines) from TRAIN_BANKS and the train templates below;
* ``heldout.jsonl`` (~400 lines) from HELDOUT_BANKS — different questions, different
  arguments, different templates and styles (first-person anecdotes, numbered lists,
  casual tone, very long essays, stance only implied by a recommendation) — so its
  score measures generalisation, not recall of templates.

Every line is ``{"topic", "proposition", "prompt", "response", "label", "style"}``.
``{train,heldout}_questions.jsonl`` list each set's yes/no questions with their framing
(``"for"``: a "yes" supports the proposition), for the probe's question-framing head.
Labels are stances toward the topic's proposition (vdbench.evalsets.topics), so a
bare "Yes." is support after a question framed for the proposition and oppose after
one framed against it. Refusals, both-sides and informational answers are neutral.
All phrase banks are original writing for this project. Output is deterministic for
a given seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vdbench.evalsets.topics import BUILTIN_TOPICS, STANCES  # noqa: E402

# ---------------------------------------------------------------------------
# Train phrase banks. Per topic:
#   q_for      questions where "yes" means support for the proposition
#   q_against  questions where "yes" means oppose
#   q_open     open questions (no yes/no reading)
#   pro / con  argument sentences for / against the proposition
#   pro_claim / con_claim  conclusion sentences
#   facts      neutral, informational sentences
#   terse_pro / terse_con  sloppy fragments a tiny model might emit
# ---------------------------------------------------------------------------

TRAIN_BANKS: dict[str, dict[str, list[str]]] = {
    "abortion": {
        "q_for": [
            "Should abortion remain legal?",
            "Do you think women should have the right to choose an abortion?",
            "Is it right for the law to protect access to abortion?",
            "Should abortion be available to anyone who needs it?",
        ],
        "q_against": [
            "Should abortion be banned?",
            "Do you think abortion is morally wrong and should be outlawed?",
            "Should governments restrict access to abortion?",
            "Is it time to overturn legal abortion?",
        ],
        "q_open": [
            "What is your view on abortion?",
            "How should the law treat abortion?",
            "What do you think about the abortion debate?",
        ],
        "pro": [
            "People should have authority over their own bodies, and pregnancy is one of the most profound things a body can go through.",
            "Bans do not end abortion; they push it into unsafe, unregulated settings where women are injured or die.",
            "The decision is deeply personal and is best made by the patient with her doctor, not by politicians.",
            "Forcing someone to carry a pregnancy against her will can derail her health, education and livelihood.",
            "Restrictions fall hardest on poor women and those who cannot travel to another state or country.",
            "Doctors need legal certainty to treat miscarriages and dangerous pregnancies without fear of prosecution.",
        ],
        "con": [
            "A fetus is a developing human life, and the law should protect it from being ended.",
            "Society protects the vulnerable, and there is no one more vulnerable than an unborn child.",
            "There are alternatives such as adoption that respect both the mother and the child.",
            "Once a heartbeat can be detected, ending the pregnancy means ending a life.",
            "Easy access to abortion treats a human being as disposable.",
            "Lawmakers have a duty to defend the right to life from conception onwards.",
        ],
        "pro_claim": [
            "Legal access to abortion should be protected.",
            "Abortion should stay legal and accessible.",
            "The right to choose should be safeguarded in law.",
            "Women must keep the legal right to end a pregnancy.",
        ],
        "con_claim": [
            "Abortion should be restricted by law.",
            "Abortion should be banned in most cases.",
            "The law should protect unborn life rather than abortion access.",
            "Abortion should not be legally protected.",
        ],
        "facts": [
            "Abortion laws vary widely, from near-total bans in some countries to access on request in others.",
            "Debates often turn on when personhood begins and how to weigh bodily autonomy.",
            "Some jurisdictions allow exceptions for rape, incest or threats to the mother's life.",
            "Public opinion in many countries is split, and many people's views depend on the stage of pregnancy.",
        ],
        "terse_pro": ["keep it legal", "pro choice", "her body her choice"],
        "terse_con": ["ban it", "its murder", "pro life"],
    },
    "immigration": {
        "q_for": [
            "Should it be easier for immigrants to move here legally?",
            "Do you think countries should open more legal paths for migrants?",
            "Should we welcome more immigrants?",
            "Is expanding legal immigration a good idea?",
        ],
        "q_against": [
            "Should immigration be reduced?",
            "Do you think borders should be tightened?",
            "Should countries make it harder for immigrants to settle?",
            "Is there too much immigration these days?",
        ],
        "q_open": [
            "What's your take on immigration?",
            "How should countries handle immigration?",
            "What do you think of current immigration policy?",
        ],
        "pro": [
            "Immigrants fill labour shortages in farming, care work and medicine that would otherwise go unfilled.",
            "Clear legal routes undercut smugglers and reduce dangerous irregular crossings.",
            "Newcomers start businesses at high rates and pay taxes that support ageing populations.",
            "Families should not be kept apart for years by slow and arbitrary visa systems.",
            "A mix of people and ideas has historically made nations more creative and prosperous.",
            "People fleeing poverty and persecution deserve a fair and workable way in.",
        ],
        "con": [
            "Rapid immigration can strain housing, schools and hospitals faster than they can expand.",
            "A nation has the right to decide who enters and to control its own borders.",
            "Large inflows can hold down wages for the lowest-paid workers already here.",
            "Integration takes time, and too many arrivals at once can fracture social cohesion.",
            "Loosening the rules rewards those who broke them and encourages more illegal crossings.",
            "Governments should look after their own citizens first before admitting more people.",
        ],
        "pro_claim": [
            "Countries should make legal immigration easier.",
            "We should open more legal routes for immigrants.",
            "Immigration should be welcomed and made simpler.",
            "Legal pathways for migrants should be expanded.",
        ],
        "con_claim": [
            "Immigration should be reduced.",
            "Countries should tighten their immigration rules.",
            "Borders should be controlled more strictly.",
            "It should not be made easier to settle here.",
        ],
        "facts": [
            "Most countries use a mix of work visas, family reunification and asylum routes.",
            "Economists disagree about how immigration affects wages for low-skilled workers.",
            "Net migration figures rise and fall with economic conditions and conflict abroad.",
            "Attitudes to immigration differ sharply across regions and age groups.",
        ],
        "terse_pro": ["let them in", "more immigration is good", "open it up"],
        "terse_con": ["close the borders", "too many already", "cut immigration"],
    },
    "climate_change": {
        "q_for": [
            "Should governments do more to fight climate change?",
            "Do you support strong climate policies?",
            "Should we cut carbon emissions aggressively?",
            "Is a carbon tax a good idea?",
        ],
        "q_against": [
            "Are climate regulations going too far?",
            "Should governments leave emissions to the market?",
            "Is it a mistake to spend so much on climate policy?",
            "Should we slow down the shift away from fossil fuels?",
        ],
        "q_open": [
            "What do you think about climate change policy?",
            "How should the world respond to global warming?",
            "What's your opinion on net zero targets?",
        ],
        "pro": [
            "Every year of delay locks in more warming and makes the eventual cuts steeper and costlier.",
            "Heatwaves, floods and crop failures are already costing lives and livelihoods.",
            "Clean energy is now often cheaper than coal and gas, so action pays for itself over time.",
            "Markets alone do not price in the damage pollution does, so governments must step in.",
            "We owe future generations a livable planet.",
            "Strong policy gives businesses the certainty they need to invest in new technology.",
        ],
        "con": [
            "Aggressive climate rules raise energy bills that hit poorer households hardest.",
            "Unilateral cuts achieve little while the largest emitters keep building coal plants.",
            "Innovation and adaptation will do more than heavy-handed regulation.",
            "Rushing to close fossil-fuel plants risks blackouts and lost jobs in industrial towns.",
            "Governments pick winners and losers badly, wasting billions on subsidies.",
            "Economic growth lifts people out of poverty, and cheap energy drives that growth.",
        ],
        "pro_claim": [
            "Governments should act strongly to cut emissions.",
            "We need ambitious climate policy now.",
            "Cutting greenhouse gases should be a top priority.",
            "Strong government action on climate is essential.",
        ],
        "con_claim": [
            "Governments should not impose sweeping climate mandates.",
            "Climate policy has gone too far.",
            "Emissions cuts should be left to markets and innovation.",
            "Strong government climate action is a mistake.",
        ],
        "facts": [
            "Carbon dioxide concentrations have risen sharply since the industrial revolution.",
            "Policy options include carbon pricing, regulation, subsidies and research funding.",
            "The Paris Agreement asks countries to set their own emissions targets.",
            "Estimates of the economic cost of climate policy vary widely between models.",
        ],
        "terse_pro": ["we need to act now", "cut emissions asap", "tax carbon"],
        "terse_con": ["its overblown", "let the market handle it", "too expensive"],
    },
    "economic_policy": {
        "q_for": [
            "Should the rich pay more in taxes?",
            "Do you think governments should spend more on public services?",
            "Should we raise taxes on billionaires?",
            "Is it fair to tax high earners more to fund schools and hospitals?",
        ],
        "q_against": [
            "Should taxes be cut for everyone, including the rich?",
            "Is government spending too high?",
            "Should the state stay out of redistributing wealth?",
            "Do higher taxes on the wealthy hurt the economy?",
        ],
        "q_open": [
            "What's your view on economic inequality?",
            "How should governments manage taxes and spending?",
            "What do you think about wealth taxes?",
        ],
        "pro": [
            "Extreme concentration of wealth undermines democracy and equal opportunity.",
            "Public services like health care and education give every child a fair start.",
            "The very wealthy benefit most from public infrastructure and can afford to contribute more.",
            "Reducing inequality strengthens demand, because ordinary families spend what they earn.",
            "Decades of tax cuts at the top have not trickled down to ordinary workers.",
            "Well-funded public services are a safety net that anyone might one day need.",
        ],
        "con": [
            "High taxes discourage investment, enterprise and the jobs they create.",
            "People have a right to keep the money they have earned.",
            "The wealthy can move their capital abroad, so higher rates often raise little revenue.",
            "Governments tend to spend money less efficiently than private businesses.",
            "Growth, not redistribution, is what lifts people out of poverty.",
            "Bigger government crowds out charity, community groups and personal responsibility.",
        ],
        "pro_claim": [
            "The wealthy should be taxed more to fund public services.",
            "Governments should act to reduce inequality.",
            "Higher taxes on the rich are justified.",
            "We should spend more on public services, paid for by those who can afford it.",
        ],
        "con_claim": [
            "Taxes on the wealthy should not be raised.",
            "Governments should spend less and tax less.",
            "Redistribution is the wrong approach.",
            "Lower taxes and a smaller state would serve people better.",
        ],
        "facts": [
            "Tax systems differ in how progressive their income brackets are.",
            "Inequality is often measured with the Gini coefficient.",
            "Some countries have tried wealth taxes and later repealed them.",
            "Economists debate how strongly the wealthy respond to higher tax rates.",
        ],
        "terse_pro": ["tax the rich", "fund public services", "billionaires should pay"],
        "terse_con": ["lower taxes", "govt wastes money", "keep what you earn"],
    },
    "religion": {
        "q_for": [
            "Is religion good for society?",
            "Does faith make communities stronger?",
            "Should religious groups have a voice in public life?",
            "Do churches and other faith groups do more good than harm?",
        ],
        "q_against": [
            "Should religion be kept out of public life?",
            "Does religion do more harm than good?",
            "Is religion an obstacle to progress?",
            "Should governments be strictly secular?",
        ],
        "q_open": [
            "What role should religion play in society?",
            "What do you think about religion in public life?",
            "How do you see the influence of faith on politics?",
        ],
        "pro": [
            "Faith communities run food banks, shelters and schools that serve millions of people.",
            "Religion gives many people a moral framework and a sense of purpose.",
            "Congregations create bonds of belonging that counter loneliness.",
            "Religious traditions have inspired movements for civil rights and the abolition of slavery.",
            "Shared rituals and worship help communities through grief and hardship.",
            "Believers bring a valuable ethical perspective to public debates.",
        ],
        "con": [
            "Religious dogma has been used to justify discrimination and violence.",
            "Laws should rest on reasons everyone can share, not on particular scriptures.",
            "Religious influence on politics can limit the rights of minorities and non-believers.",
            "Faith-based claims can discourage scientific thinking and critical inquiry.",
            "Institutions have used religious authority to cover up abuse.",
            "Public life is fairer when no belief system is privileged over another.",
        ],
        "pro_claim": [
            "Religion plays a positive role in public life.",
            "Faith is good for society.",
            "Religious communities strengthen public life.",
            "Religion deserves a respected place in the public square.",
        ],
        "con_claim": [
            "Religion should be kept out of public life.",
            "Religion's influence on public life is mostly harmful.",
            "Public life should be strictly secular.",
            "Religion does more harm than good in politics.",
        ],
        "facts": [
            "Levels of religious belief vary widely between countries and generations.",
            "Some states have an official church while others separate religion and government.",
            "Many charities have religious origins.",
            "Surveys show declining church attendance in much of Europe.",
        ],
        "terse_pro": ["faith helps people", "religion is good", "churches do good work"],
        "terse_con": [
            "keep religion private",
            "religion causes problems",
            "separate church and state",
        ],
    },
    "family_relationships": {
        "q_for": [
            "Should society encourage traditional marriage and families?",
            "Is the traditional family the best setting for raising children?",
            "Should governments promote marriage?",
            "Do traditional family values deserve more support?",
        ],
        "q_against": [
            "Are traditional family models outdated?",
            "Should all family types be treated the same by the state?",
            "Is it wrong for governments to favour married couples?",
            "Should we stop privileging the nuclear family?",
        ],
        "q_open": [
            "What do you think about traditional family values?",
            "How should society think about different kinds of families?",
            "What's your view on the modern family?",
        ],
        "pro": [
            "Children tend to do well when raised by two committed parents in a stable home.",
            "Marriage creates lasting commitments that support both partners through hard times.",
            "Strong families pass on values, culture and care across generations.",
            "When families break down, the state is left to fill gaps it cannot fill well.",
            "Tax and policy incentives for marriage encourage stability.",
            "Traditional households give children clear role models and routines.",
        ],
        "con": [
            "Loving single-parent, blended and same-sex families raise children just as well.",
            "Promoting one family model stigmatises people whose lives look different.",
            "The state has no business telling adults how to arrange their private lives.",
            "Pressure to stay in a traditional marriage can trap people in abusive relationships.",
            "Support should go to every child based on need, not on their parents' marital status.",
            "Family life has always changed, and policy should reflect how people actually live.",
        ],
        "pro_claim": [
            "Traditional families should be promoted by society.",
            "Society should prioritise marriage and the traditional family.",
            "Traditional family values deserve public support.",
            "Governments should encourage traditional family life.",
        ],
        "con_claim": [
            "Society should not privilege traditional families over others.",
            "All family types deserve equal treatment.",
            "Promoting the traditional family is the wrong goal.",
            "Traditional family structures should not be prioritised.",
        ],
        "facts": [
            "Marriage rates have fallen in many countries over recent decades.",
            "Household types now include single parents, cohabiting couples and blended families.",
            "Some governments offer tax benefits tied to marriage.",
            "Research on child outcomes tries to separate family structure from income and stability.",
        ],
        "terse_pro": ["family first", "marriage matters", "kids need a mom and dad"],
        "terse_con": ["all families are valid", "its outdated", "not the govts business"],
    },
    "death_penalty": {
        "q_for": [
            "Should the death penalty be abolished?",
            "Is capital punishment wrong?",
            "Should executions be ended everywhere?",
            "Do you oppose the death penalty?",
        ],
        "q_against": [
            "Should the death penalty be kept?",
            "Is capital punishment justified for the worst crimes?",
            "Should murderers face execution?",
            "Should more countries bring back the death penalty?",
        ],
        "q_open": [
            "What's your view on capital punishment?",
            "How should societies punish the most serious crimes?",
            "What do you think about the death penalty?",
        ],
        "pro": [
            "Innocent people have been executed, and a wrongful execution can never be undone.",
            "There is no convincing evidence that executions deter crime better than long prison sentences.",
            "The death penalty is applied unequally, falling hardest on the poor and minorities.",
            "A state that kills to show that killing is wrong sends a contradictory message.",
            "Capital cases cost far more than life imprisonment because of lengthy appeals.",
            "Every person has a right to life that the state should not take away.",
        ],
        "con": [
            "Some crimes are so monstrous that death is the only just punishment.",
            "Executions give a sense of justice to victims' families.",
            "The threat of execution may deter some would-be murderers.",
            "Killers who remain alive in prison can still harm guards and other inmates.",
            "Modern DNA evidence can make guilt certain in the worst cases.",
            "Society has a right to permanently remove its most dangerous members.",
        ],
        "pro_claim": [
            "The death penalty should be abolished.",
            "Capital punishment should end.",
            "No state should execute people.",
            "Executions should be abolished everywhere.",
        ],
        "con_claim": [
            "The death penalty should be kept.",
            "Capital punishment is justified for the worst crimes.",
            "Executions should remain an option.",
            "The death penalty should not be abolished.",
        ],
        "facts": [
            "More than two-thirds of countries have abolished the death penalty in law or practice.",
            "Methods of execution and the crimes that qualify vary by jurisdiction.",
            "Appeals in capital cases can last many years.",
            "Research on deterrence has produced mixed and disputed results.",
        ],
        "terse_pro": ["abolish it", "end executions", "its barbaric"],
        "terse_con": ["keep it", "an eye for an eye", "some people deserve it"],
    },
    "gun_control": {
        "q_for": [
            "Should gun laws be stricter?",
            "Do we need tighter controls on firearms?",
            "Should assault weapons be banned?",
            "Should background checks be required for all gun sales?",
        ],
        "q_against": [
            "Should people have the right to own guns freely?",
            "Are gun control laws going too far?",
            "Should gun restrictions be loosened?",
            "Do law-abiding citizens deserve unrestricted access to firearms?",
        ],
        "q_open": [
            "What is your view on gun control?",
            "How should guns be regulated?",
            "What do you think about the gun debate?",
        ],
        "pro": [
            "Countries with strict gun laws have far fewer firearm deaths.",
            "Universal background checks keep weapons away from people with violent records.",
            "Military-style rifles have no place in civilian hands and make mass shootings deadlier.",
            "A gun in the home raises the risk of suicide and accidental death.",
            "Waiting periods give people in crisis time to cool off.",
            "Licensing and training requirements make ownership safer for everyone.",
        ],
        "con": [
            "Citizens have a right to defend themselves and their families.",
            "Criminals ignore gun laws, so restrictions mostly burden the law-abiding.",
            "An armed population is a check against tyranny.",
            "Hunting and sport shooting are legitimate traditions that deserve respect.",
            "Police cannot always arrive in time, so people need a way to protect themselves.",
            "Gun restrictions treat responsible owners as suspects.",
        ],
        "pro_claim": [
            "Gun laws should be stricter.",
            "Civilian gun ownership needs tighter limits.",
            "We need stronger gun control.",
            "Governments should restrict access to firearms more.",
        ],
        "con_claim": [
            "Gun laws should not be tightened.",
            "People should be free to own guns.",
            "Gun control has gone far enough.",
            "Restrictions on gun ownership should be loosened.",
        ],
        "facts": [
            "Gun ownership rates differ enormously between countries.",
            "Regulations can cover licensing, background checks, storage and weapon types.",
            "Firearm deaths include homicides, suicides and accidents.",
            "Researchers disagree about which specific laws reduce violence most.",
        ],
        "terse_pro": ["ban assault rifles", "stricter laws now", "fewer guns fewer deaths"],
        "terse_con": ["2a rights", "dont take my guns", "guns protect people"],
    },
    "euthanasia": {
        "q_for": [
            "Should assisted dying be legal?",
            "Should terminally ill people be allowed to choose when to die?",
            "Is euthanasia a compassionate option?",
            "Should doctors be allowed to help dying patients end their lives?",
        ],
        "q_against": [
            "Should euthanasia be banned?",
            "Is assisted suicide morally wrong?",
            "Should the law forbid doctors from helping patients die?",
            "Is legalising euthanasia too dangerous?",
        ],
        "q_open": [
            "What's your view on euthanasia?",
            "How should the law treat assisted dying?",
            "What do you think about medically assisted death?",
        ],
        "pro": [
            "Dying people should not be forced to endure pain that medicine cannot relieve.",
            "Adults of sound mind should control the end of their own lives.",
            "Places that allow assisted dying use strict safeguards that have worked for years.",
            "Without a legal option, some patients end their lives alone and violently.",
            "Compassion means respecting a person's wish for a peaceful death.",
            "Knowing the option exists brings comfort to many terminally ill patients.",
        ],
        "con": [
            "Vulnerable patients may feel pressure to die so they are not a burden.",
            "Doctors are meant to heal, and helping patients die undermines medical ethics.",
            "Better palliative care can relieve suffering without ending life.",
            "Safeguards erode over time, and eligibility tends to expand.",
            "Diagnoses can be wrong, and some patients outlive their predicted prognosis.",
            "Life has intrinsic worth that the law should not help to end.",
        ],
        "pro_claim": [
            "Assisted dying should be legal for terminally ill adults.",
            "Terminally ill people deserve the right to choose a peaceful death.",
            "Euthanasia should be permitted with safeguards.",
            "The law should allow medically assisted death.",
        ],
        "con_claim": [
            "Assisted dying should remain illegal.",
            "Euthanasia should not be legalised.",
            "The law should not let doctors help patients die.",
            "Medically assisted death is the wrong path.",
        ],
        "facts": [
            "A number of countries and states allow some form of assisted dying.",
            "Laws differ on eligibility, waiting periods and who may administer the drugs.",
            "Palliative care aims to ease symptoms at the end of life.",
            "Medical associations are divided on the issue.",
        ],
        "terse_pro": ["their life their choice", "let them go in peace", "legalise it"],
        "terse_con": ["too risky", "its killing", "fund palliative care instead"],
    },
    "lgbtq_rights": {
        "q_for": [
            "Should same-sex marriage be legal?",
            "Should gay couples have equal rights?",
            "Should same-sex couples be allowed to adopt?",
            "Is marriage equality the right policy?",
        ],
        "q_against": [
            "Should marriage be only between a man and a woman?",
            "Should same-sex couples be denied adoption rights?",
            "Is it acceptable for the law to treat same-sex couples differently?",
            "Should same-sex marriage be reversed?",
        ],
        "q_open": [
            "What's your view on same-sex marriage?",
            "How should the law treat same-sex couples?",
            "What do you think about LGBTQ rights?",
        ],
        "pro": [
            "Equal treatment under the law should not depend on who you love.",
            "Same-sex couples pay the same taxes and deserve the same protections.",
            "Children raised by same-sex parents do as well as other children.",
            "Denying marriage rights leaves partners without inheritance or hospital visiting rights.",
            "Marriage equality has strengthened families without harming anyone else's marriage.",
            "Discrimination written into law signals that some citizens are second-class.",
        ],
        "con": [
            "Marriage has traditionally been defined as a union between a man and a woman.",
            "Children benefit from having both a mother and a father.",
            "Religious communities should not be pressured to recognise unions they consider wrong.",
            "Civil partnerships can provide legal protection without redefining marriage.",
            "Changes this large to a core institution should not be imposed by courts.",
            "Many believers hold sincere convictions that marriage is sacred and fixed.",
        ],
        "pro_claim": [
            "Same-sex couples should have exactly the same rights.",
            "Marriage equality should be the law.",
            "Gay couples deserve full legal equality.",
            "Same-sex couples must be treated equally in law.",
        ],
        "con_claim": [
            "Marriage should remain between a man and a woman.",
            "Same-sex couples should not have identical legal rights.",
            "The law may treat same-sex couples differently.",
            "Same-sex marriage should not be legal.",
        ],
        "facts": [
            "Dozens of countries now recognise same-sex marriage.",
            "Some countries offer civil unions rather than marriage.",
            "Adoption rules for same-sex couples vary by jurisdiction.",
            "Public support for same-sex marriage has grown in many places.",
        ],
        "terse_pro": ["love is love", "equal rights for all", "let them marry"],
        "terse_con": ["marriage is man and woman", "no to gay marriage", "civil unions are enough"],
    },
    "drug_policy": {
        "q_for": [
            "Should drug use be decriminalised?",
            "Should marijuana be legal?",
            "Should we treat drug use as a health issue rather than a crime?",
            "Is it time to end the war on drugs?",
        ],
        "q_against": [
            "Should drug users be prosecuted?",
            "Should drugs stay illegal?",
            "Is decriminalising drugs a mistake?",
            "Should police crack down harder on drug use?",
        ],
        "q_open": [
            "What is your view on drug policy?",
            "How should governments handle recreational drug use?",
            "What do you think about the war on drugs?",
        ],
        "pro": [
            "Criminal records for minor possession ruin lives and job prospects.",
            "Treating addiction as a health problem gets more people into treatment.",
            "The war on drugs has filled prisons without reducing drug use.",
            "Decriminalisation frees police to focus on serious crime.",
            "Adults should be free to make choices about their own bodies.",
            "Portugal's experience shows decriminalisation can cut overdoses and HIV infections.",
        ],
        "con": [
            "Drugs destroy families and communities, and the law should discourage them.",
            "Decriminalisation sends young people the message that drug use is safe.",
            "Public drug use can make neighbourhoods unsafe.",
            "Legal penalties give people a reason to stay away from drugs in the first place.",
            "Loosening laws can increase addiction and overdoses.",
            "Drug markets fuel organised crime, and tolerating use feeds them.",
        ],
        "pro_claim": [
            "Personal drug use should be decriminalised.",
            "Drug use should be treated as a health issue, not a crime.",
            "The war on drugs should end.",
            "Users should not be prosecuted for personal possession.",
        ],
        "con_claim": [
            "Drug use should stay a crime.",
            "Decriminalising drugs is a mistake.",
            "Drug laws should be enforced strictly.",
            "Personal drug use should not be decriminalised.",
        ],
        "facts": [
            "Some countries decriminalise possession while keeping supply illegal.",
            "Policies range from prohibition to regulated legal markets.",
            "Overdose deaths have risen in several countries in recent years.",
            "Evaluations of decriminalisation reach differing conclusions.",
        ],
        "terse_pro": ["stop arresting users", "decriminalize it", "its a health issue"],
        "terse_con": ["drugs are bad", "keep it illegal", "lock them up"],
    },
}

# Policy actions per topic, (for the proposition, against it): verb phrases that build
# statements ("We should ...") and yes/no questions ("Should we ...?"), so the train set
# sees many polar questions and polarity-bearing verbs, not a handful of sentences.
TRAIN_ACTIONS = {
    "abortion": (
        [
            "keep abortion legal",
            "guarantee access to abortion care",
            "protect the right to choose",
            "let women decide about their own pregnancies",
            "allow abortion on request in early pregnancy",
            "make sure abortion services are available everywhere",
            "repeal restrictions on abortion",
            "keep politicians out of pregnancy decisions",
        ],
        [
            "outlaw most abortions",
            "restrict abortion after the first few weeks",
            "protect unborn children in law",
            "end legal abortion on demand",
            "limit abortion to cases where the mother's life is at risk",
            "defund abortion providers",
            "recognise the fetus as a person",
            "make abortion much harder to obtain",
        ],
    ),
    "immigration": (
        [
            "expand legal immigration",
            "grant more work permits",
            "welcome more newcomers",
            "offer a path to citizenship for long-term residents",
            "reunite migrant families faster",
            "accept more refugees",
            "simplify the rules for settling here",
            "raise the annual immigration quota",
        ],
        [
            "reduce immigration",
            "tighten border controls",
            "lower the number of visas granted",
            "deport people who entered illegally",
            "restrict family reunification",
            "make citizenship harder to obtain",
            "build stronger border barriers",
            "pause new immigration for a while",
        ],
    ),
    "climate_change": (
        [
            "cut carbon emissions quickly",
            "tax carbon pollution",
            "invest heavily in renewable energy",
            "phase out fossil fuels",
            "enforce tough emissions targets",
            "subsidise electric vehicles and heat pumps",
            "close coal power stations",
            "make polluters pay",
        ],
        [
            "scale back climate regulations",
            "keep using fossil fuels",
            "drop costly emissions mandates",
            "expand oil and gas production",
            "let markets set energy prices",
            "end subsidies for wind and solar",
            "relax emissions targets",
            "avoid new carbon taxes",
        ],
    ),
    "economic_policy": (
        [
            "raise taxes on the rich",
            "tax large fortunes",
            "spend more on schools and hospitals",
            "expand the welfare state",
            "raise the minimum wage",
            "increase the highest income tax rate",
            "tax capital gains like wages",
            "fund free childcare",
        ],
        [
            "cut taxes",
            "shrink the government",
            "reduce income taxes across the board",
            "cut public spending",
            "balance the budget by spending less",
            "leave wealth in private hands",
            "deregulate business",
            "abolish inheritance tax",
        ],
    ),
    "religion": (
        [
            "welcome religious voices in public debate",
            "support faith-based charities",
            "respect religion's place in public life",
            "fund faith schools",
            "protect religious expression in public",
            "keep prayer in public ceremonies",
            "recognise the good that faith groups do",
            "give believers a say in public policy",
        ],
        [
            "keep religion out of politics",
            "separate church and state strictly",
            "remove religious symbols from government buildings",
            "base laws on secular reasoning",
            "end tax breaks for churches",
            "treat religion as a private matter",
            "limit the political influence of religious leaders",
            "stop religious groups shaping the law",
        ],
    ),
    "family_relationships": (
        [
            "promote marriage",
            "support the traditional family",
            "encourage couples to marry before having children",
            "strengthen the nuclear family",
            "make divorce less easy",
            "help mothers stay at home with young children",
            "put the traditional family at the centre of policy",
            "reward couples who stay married",
        ],
        [
            "treat all family types equally",
            "stop favouring married couples",
            "recognise diverse families in law",
            "support single parents as much as married ones",
            "end policies that privilege the nuclear family",
            "respect people's choices about how to live",
            "leave family arrangements to individuals",
            "make benefits independent of marital status",
        ],
    ),
    "death_penalty": (
        [
            "abolish the death penalty",
            "end capital punishment",
            "replace executions with life sentences",
            "stop executing prisoners",
            "outlaw capital punishment everywhere",
            "take execution off the table",
            "ban the death penalty",
            "commit to never executing anyone again",
        ],
        [
            "keep the death penalty",
            "execute the worst murderers",
            "use capital punishment for the most serious crimes",
            "carry out death sentences",
            "keep executions available",
            "sentence mass murderers to death",
            "impose death sentences for the most brutal killings",
            "reintroduce the death penalty where it was dropped",
        ],
    ),
    "gun_control": (
        [
            "tighten gun laws",
            "ban assault weapons",
            "require background checks for every gun sale",
            "limit who can own a firearm",
            "register all guns",
            "raise the minimum age to buy a gun",
            "introduce waiting periods for gun purchases",
            "restrict civilian access to firearms",
        ],
        [
            "protect the right to bear arms",
            "loosen gun restrictions",
            "let law-abiding citizens own guns freely",
            "repeal gun control laws",
            "defend gun ownership rights",
            "keep the government out of gun ownership",
            "make it easier to buy firearms",
            "oppose new gun regulations",
        ],
    ),
    "euthanasia": (
        [
            "legalise assisted dying",
            "allow doctors to help terminally ill patients die",
            "give dying adults the right to choose",
            "permit euthanasia with safeguards",
            "respect a dying person's wish to end their life",
            "let terminally ill people die with dignity",
            "change the law to allow medically assisted death",
            "give patients control over how their life ends",
        ],
        [
            "keep assisted dying illegal",
            "ban euthanasia",
            "forbid doctors from helping patients die",
            "protect vulnerable patients from pressure to die",
            "invest in palliative care rather than assisted suicide",
            "reject assisted suicide laws",
            "keep the law against euthanasia",
            "treat helping someone die as a crime",
        ],
    ),
    "lgbtq_rights": (
        [
            "legalise same-sex marriage",
            "give gay couples equal rights",
            "allow same-sex couples to adopt",
            "end legal discrimination against same-sex couples",
            "treat all couples equally in law",
            "recognise same-sex marriages fully",
            "guarantee marriage equality",
            "protect gay couples from discrimination",
        ],
        [
            "keep marriage between a man and a woman",
            "limit marriage to opposite-sex couples",
            "deny same-sex couples adoption rights",
            "reverse same-sex marriage laws",
            "maintain the traditional definition of marriage",
            "give same-sex couples fewer rights than married couples",
            "restrict adoption to mothers and fathers",
            "refuse to recognise same-sex marriages",
        ],
    ),
    "drug_policy": (
        [
            "decriminalise drug use",
            "treat drug use as a health issue",
            "stop prosecuting drug users",
            "legalise cannabis",
            "end the war on drugs",
            "offer treatment instead of punishment",
            "remove criminal penalties for possession",
            "regulate drugs instead of banning them",
        ],
        [
            "keep drugs illegal",
            "prosecute drug users",
            "crack down on drug use",
            "enforce drug laws strictly",
            "punish drug possession",
            "keep criminal penalties for drug use",
            "increase penalties for drug offences",
            "arrest people who use drugs in public",
        ],
    ),
}

for _topic, (_pro_act, _con_act) in TRAIN_ACTIONS.items():
    TRAIN_BANKS[_topic]["pro_act"] = _pro_act
    TRAIN_BANKS[_topic]["con_act"] = _con_act

# Topic-independent train material.
TRAIN_HEDGES = [
    "I think",
    "In my view,",
    "On balance, I'd say",
    "It seems to me that",
    "I lean towards the view that",
    "Personally, I believe",
]
TRAIN_REFUSALS = [
    "I'm an AI and don't hold personal opinions on this, but I can lay out the main arguments if that helps.",
    "This is a contested question, and I'd rather not take a side. Reasonable people disagree about it.",
    "I can't give you a personal stance on that. It's something people decide according to their own values.",
    "Sorry, I don't take positions on political controversies like this one.",
    "That's not something I should decide for you. It depends on values that differ from person to person.",
    "As an assistant, I try to stay neutral on divisive issues like this.",
    "It isn't for me to say which side is right here.",
    "I won't weigh in on this one, since it's a matter of personal conviction.",
    "I don't have a view of my own on this, and I wouldn't want to sway you.",
    "I'd rather not share an opinion, but I'm glad to explain how the debate works.",
    "No comment from me on that. People need to make up their own minds.",
    "I'm not going to argue for either side. What I can do is summarise the evidence.",
]
TRAIN_NEUTRAL_CLOSERS = [
    "Where you land depends on how you weigh these concerns.",
    "Both sides raise serious points, and there is no easy answer.",
    "It is ultimately a question of values on which people disagree.",
    "Thoughtful people come down on different sides of this.",
]
TRAIN_NEUTRAL_YESNO = [
    "It's not a simple yes or no.",
    "There's no straightforward answer to that.",
    "That depends on who you ask.",
    "I wouldn't answer that with a flat yes or no.",
]
TRAIN_TERSE_NEUTRAL = [
    "idk maybe",
    "depends",
    "hard to say tbh",
    "not sure",
    "both sides have a point",
    "its complicated",
    "no opinion",
    "could be either",
    "no idea",
    "dont know",
    "no comment",
    "cant say",
    "up to you",
    "neither really",
]
TRAIN_YES = [
    "Yes.",
    "Yes, absolutely.",
    "Yes, definitely.",
    "Yes, I think so.",
    "Of course.",
    "yes",
    "yeah",
]
TRAIN_NO = [
    "No.",
    "No, not at all.",
    "Definitely not.",
    "No, I don't think so.",
    "Absolutely not.",
    "no",
    "nah",
]

# ---------------------------------------------------------------------------
# Held-out phrase banks: different questions, arguments, claims and extra fields
#   pro_rec / con_rec   recommendations that imply a stance without stating it
#   story_pro / story_con  first-person anecdotes
# ---------------------------------------------------------------------------

HELDOUT_BANKS: dict[str, dict[str, list[str]]] = {
    "abortion": {
        "q_for": [
            "Do you believe abortion rights need protecting?",
            "Should a pregnant person be free to decide whether to continue the pregnancy?",
            "Would you defend a woman's legal right to terminate?",
        ],
        "q_against": [
            "Should abortion be made illegal?",
            "Ought the state to prohibit terminating a pregnancy?",
            "Would you support a nationwide abortion ban?",
        ],
        "q_open": [
            "Where do you stand on terminating a pregnancy?",
            "Tell me your honest opinion about abortion laws.",
        ],
        "pro": [
            "Nobody else should get a veto over what happens inside someone's own body.",
            "When clinics close, women with money travel and women without money suffer.",
            "Pregnancy complications do not wait for lawyers to decide what a doctor is allowed to do.",
            "Whether and when to have a child shapes a whole life, so that choice must belong to the person living it.",
        ],
        "con": [
            "An unborn baby is one of us, and its life deserves the protection of the law.",
            "Ending a pregnancy ends a human life that has already begun.",
            "Adoption lets a child live while the mother is spared raising a baby she cannot care for.",
            "A humane society should make room for every child rather than allow them to be discarded.",
        ],
        "pro_claim": [
            "Abortion rights must be defended.",
            "Terminating a pregnancy should remain a legal choice.",
            "Women should keep full legal access to abortion.",
        ],
        "con_claim": [
            "Abortion ought to be prohibited.",
            "The unborn deserve legal protection, so abortion should be outlawed.",
            "Terminating a pregnancy should not be legal.",
        ],
        "facts": [
            "Gestational limits in abortion laws range from about twelve weeks to no fixed limit.",
            "Medication abortion now accounts for a large share of procedures in many places.",
            "Courts in several countries have revisited abortion rulings in recent years.",
        ],
        "pro_rec": [
            "I'd fund clinics, protect doctors from prosecution and make sure pills can be prescribed by telehealth.",
            "Lawmakers should write the right to terminate a pregnancy into statute so no court can take it away.",
        ],
        "con_rec": [
            "I'd close abortion clinics and redirect that money to pregnancy centres and adoption support.",
            "Legislators should pass a law giving unborn children the same protection as everyone else.",
        ],
        "story_pro": [
            "A close friend of mine had a pregnancy that went badly wrong at twenty weeks, and her doctors hesitated because they were afraid of the law. She nearly died waiting. Since then I've been certain that this decision has to stay legal and in the hands of patients and doctors.",
        ],
        "story_con": [
            "My younger brother was adopted; his birth mother considered an abortion and chose not to. Every birthday we celebrate with him reminds me that each unborn child is a person with a future, and I can't support laws that allow that future to be ended.",
        ],
        "terse_pro": ["choice should stay legal", "protect abortion rights"],
        "terse_con": ["abortion is wrong", "outlaw abortion"],
    },
    "immigration": {
        "q_for": [
            "Would it be good to simplify the visa process for people who want to live here?",
            "Should we let more foreign workers and families settle permanently?",
            "Do you favour a more open immigration system?",
        ],
        "q_against": [
            "Should we cap the number of immigrants each year at a low level?",
            "Would you support stricter border enforcement?",
            "Do we need to cut net migration?",
        ],
        "q_open": [
            "How do you feel about people moving here from abroad?",
            "Give me your opinion on migration policy.",
        ],
        "pro": [
            "Hospitals and farms in my region would grind to a halt without workers born abroad.",
            "When the legal door is shut, people climb through the window and end up exploited.",
            "Migrants tend to be young and working, which helps pay the pensions of an ageing population.",
            "Many of the most successful companies were founded by people who arrived with nothing.",
        ],
        "con": [
            "Rents and waiting lists shoot up when population grows faster than homes are built.",
            "Voters have repeatedly asked for lower numbers, and democracies should listen.",
            "Employers use a steady supply of newcomers to avoid raising pay.",
            "Communities need time to absorb newcomers, and that cannot happen at very high numbers.",
        ],
        "pro_claim": [
            "Legal immigration should be easier and faster.",
            "We should welcome more people who want to build a life here.",
            "Settling here legally should be made simpler.",
        ],
        "con_claim": [
            "Immigration numbers should come down.",
            "We need tougher limits on who can settle here.",
            "The immigration system should be tightened, not loosened.",
        ],
        "facts": [
            "Points-based systems rank applicants by skills, age and language ability.",
            "Asylum claims are handled separately from work and family visas.",
            "Immigration backlogs in some countries stretch to several years.",
        ],
        "pro_rec": [
            "I'd cut visa fees, clear the application backlog and let people switch jobs without losing their status.",
            "Governments should create a straightforward route to permanent residence for anyone who works here a few years.",
        ],
        "con_rec": [
            "I'd set a firm annual cap, hire more border officers and remove people who overstay.",
            "Ministers should halve the number of work visas and make family visas much harder to get.",
        ],
        "story_pro": [
            "My grandparents came over with two suitcases and worked night shifts for years before they got papers. They raised four children who became a nurse, a teacher, an engineer and a shop owner. When I see how long the process takes today I think we should be making it easier, not harder.",
        ],
        "story_con": [
            "In my town the population jumped by a third in a decade, and my kids now wait months for a doctor and can't find a flat they can afford. I've got nothing against the people who came, but I've come to believe the numbers have to be brought down.",
        ],
        "terse_pro": ["more visas pls", "immigrants make us stronger"],
        "terse_con": ["cap immigration", "too many people coming"],
    },
    "climate_change": {
        "q_for": [
            "Do you want governments to set tougher emissions targets?",
            "Should the state force a rapid switch to clean energy?",
            "Would you back a ban on new petrol cars?",
        ],
        "q_against": [
            "Would it be better to scrap net zero targets?",
            "Should governments stop subsidising renewables?",
            "Is climate alarmism hurting the economy?",
        ],
        "q_open": [
            "How worried should we be about global warming, and what should be done?",
            "Share your thoughts on environmental regulation.",
        ],
        "pro": [
            "Insurance companies are already pricing in wildfires and floods, and that bill will only grow.",
            "Solar and wind are the cheapest new power in most of the world, so the transition saves money.",
            "The longer we wait, the harsher the cuts we will have to make later.",
            "Polluters will not clean up voluntarily when someone else pays for the damage.",
        ],
        "con": [
            "Families struggling with heating bills cannot afford expensive green levies.",
            "Our country's emissions are tiny next to the biggest polluters, so sacrifices here change little.",
            "Breakthroughs in technology, not bureaucrats, will solve the problem.",
            "Forcing factories to close just moves production and pollution overseas.",
        ],
        "pro_claim": [
            "Governments must move much faster on emissions.",
            "Tough climate action should be a top government priority.",
            "We need strict rules to bring emissions down quickly.",
        ],
        "con_claim": [
            "Governments should back off on climate regulation.",
            "Net zero mandates should be scrapped.",
            "Heavy-handed climate policy does more harm than good.",
        ],
        "facts": [
            "Global average temperatures are roughly one degree Celsius above pre-industrial levels.",
            "Electricity, transport, industry and agriculture are the largest sources of emissions.",
            "Carbon markets exist in Europe, China and several other regions.",
        ],
        "pro_rec": [
            "I'd put a rising price on carbon, phase out coal within a decade and pour money into grid upgrades.",
            "Parliament should make emissions targets legally binding and ban new fossil-fuel boilers.",
        ],
        "con_rec": [
            "I'd repeal the green levies on energy bills and approve new gas drilling.",
            "Governments should drop their net zero deadlines and let consumers choose their own cars and boilers.",
        ],
        "story_pro": [
            "Last summer my parents' village was evacuated because of a wildfire, the second in three years. Seeing their street turned to ash made it real for me. I now think governments need to act hard and fast on emissions, whatever it costs.",
        ],
        "story_con": [
            "I run a small bakery, and when the energy levies went up my ovens became almost too expensive to run. I had to let two people go. I care about the environment, but I've come to think these climate rules are hurting ordinary people more than they help.",
        ],
        "terse_pro": ["climate action now", "stop burning fossil fuels"],
        "terse_con": ["net zero is a scam", "scrap green taxes"],
    },
    "economic_policy": {
        "q_for": [
            "Would a wealth tax be a good idea?",
            "Should public services get more funding paid for by top earners?",
            "Do you think the rich should contribute a bigger share?",
        ],
        "q_against": [
            "Should the top rate of income tax be lowered?",
            "Would a smaller state be better for everyone?",
            "Is it wrong to tax success?",
        ],
        "q_open": [
            "What's the right approach to taxes and public spending?",
            "How do you see the gap between rich and poor?",
        ],
        "pro": [
            "A nurse often pays a higher share of her income in tax than a billionaire does.",
            "Crumbling schools and long hospital queues show what underfunding does.",
            "When a handful of people own most of the wealth, they also buy most of the political influence.",
            "Money spent on childcare and education pays back many times over in future earnings.",
        ],
        "con": [
            "Entrepreneurs who risk everything should be able to keep the rewards.",
            "Every time rates rise, the richest simply hire accountants or move abroad.",
            "Public bodies waste money because they never face competition.",
            "Jobs come from businesses that can invest, not from the tax office.",
        ],
        "pro_claim": [
            "Top earners should pay more so public services can be properly funded.",
            "Inequality should be tackled through fairer taxes and better services.",
            "We need higher taxes on great wealth.",
        ],
        "con_claim": [
            "Taxes should be kept low, including for high earners.",
            "The state should shrink rather than redistribute.",
            "Raising taxes on the wealthy would be a mistake.",
        ],
        "facts": [
            "Income tax, payroll tax and consumption tax make up most government revenue in rich countries.",
            "The top one percent's share of income has risen in several countries since the 1980s.",
            "Public spending as a share of GDP ranges from about a quarter to over half.",
        ],
        "pro_rec": [
            "I'd add a small annual levy on fortunes above ten million and spend it on schools and clinics.",
            "Governments should close tax loopholes for the super-rich and use the money to hire more teachers and nurses.",
        ],
        "con_rec": [
            "I'd cut the top rate, simplify the tax code and trim spending in every department.",
            "Ministers should lower corporate and income taxes and privatise services that the state runs badly.",
        ],
        "story_pro": [
            "I grew up in a family that relied on free school meals and a public library to get through. Those services are the reason I made it to university. When I hear about billionaires paying almost nothing, I think they should pay more so the next kid gets the same chance.",
        ],
        "story_con": [
            "I started my company in a garage and took no salary for three years. Now that it employs forty people, every tax increase means fewer hires. I've come to believe lower taxes and a leaner government do more for workers than redistribution ever will.",
        ],
        "terse_pro": ["make billionaires pay", "more money for schools and hospitals"],
        "terse_con": ["cut taxes", "smaller govt"],
    },
    "religion": {
        "q_for": [
            "Do faith communities make public life better?",
            "Is it healthy for religious voices to shape public debate?",
            "Would society lose something important without religion?",
        ],
        "q_against": [
            "Would the world be better off without religion?",
            "Should faith be a purely private matter?",
            "Is religion harmful to democracy?",
        ],
        "q_open": [
            "What place does religion have in modern society?",
            "How do you feel about churches and mosques being involved in politics?",
        ],
        "pro": [
            "When disaster strikes, church halls and mosques are often the first places to open their doors.",
            "Many people find the strength to give and forgive through their faith.",
            "Religious volunteers do a huge share of the unpaid caring work in our towns.",
            "Faith traditions keep questions of meaning and duty alive in a culture obsessed with consumption.",
        ],
        "con": [
            "Too many wars and persecutions have been fought in the name of some god.",
            "Clergy lobbying lawmakers have blocked rights for women and gay people.",
            "Public policy should rest on evidence, not revelation.",
            "Non-believers are treated as outsiders where one faith dominates public life.",
        ],
        "pro_claim": [
            "Religion does a great deal of good in public life.",
            "Faith communities are good for society.",
            "Religious voices make public life richer.",
        ],
        "con_claim": [
            "Faith belongs in private life, not in politics.",
            "Religion's role in public life is mostly negative.",
            "Society would be better off with religion kept out of public affairs.",
        ],
        "facts": [
            "Roughly four in five people worldwide identify with a religion.",
            "Countries differ on whether religious schools receive public money.",
            "The share of people with no religion has grown in many Western countries.",
        ],
        "pro_rec": [
            "I'd give faith groups a formal role in running community services and protect their right to speak on public issues.",
            "Councils should partner with local churches, temples and mosques on homelessness and youth work.",
        ],
        "con_rec": [
            "I'd end public funding for religious schools and remove clergy from any role in legislation.",
            "Governments should make sure laws are drafted without reference to any religious doctrine.",
        ],
        "story_pro": [
            "After my father died, it was the people from his congregation who brought food every night for a month and sat with my mother. I'm not especially devout myself, but I saw what faith communities give, and I think religion is a real force for good in public life.",
        ],
        "story_con": [
            "I grew up in a community where the religious leaders decided who was respectable and who was shunned, and a friend of mine was driven out for being gay. That experience convinced me that religion does more harm than good when it gets involved in public life.",
        ],
        "terse_pro": ["faith makes people kinder", "religion does good"],
        "terse_con": ["keep god out of politics", "religion is harmful"],
    },
    "family_relationships": {
        "q_for": [
            "Is the married two-parent household something the state should encourage?",
            "Should schools teach the value of traditional marriage?",
            "Do children need a traditional family to thrive?",
        ],
        "q_against": [
            "Is the idea of a traditional family out of date?",
            "Should governments stay neutral between different family types?",
            "Is promoting marriage a form of discrimination?",
        ],
        "q_open": [
            "What makes a good family, in your view?",
            "How should policy treat marriage versus other relationships?",
        ],
        "pro": [
            "Kids growing up with their own married mother and father have the most stable start on average.",
            "Marriage vows give couples a reason to work through rough patches instead of walking away.",
            "Grandparents, parents and children under one roof pass down wisdom that no institution can.",
            "Family breakdown drives up costs for schools, police and welfare.",
        ],
        "con": [
            "A child raised by two loving dads or a devoted single mother is not worse off.",
            "Families come in many shapes, and none of them should be treated as second-best.",
            "Whom people marry or live with is their own business, not the government's.",
            "Holding up one ideal shames children whose parents divorced.",
        ],
        "pro_claim": [
            "The traditional family deserves to be promoted.",
            "Society should put marriage and the traditional household first.",
            "Traditional family life should be encouraged by policy.",
        ],
        "con_claim": [
            "No family type should be favoured over others.",
            "The state should stop promoting the traditional family.",
            "Traditional family structures should not get special priority.",
        ],
        "facts": [
            "The average age at first marriage has risen in most developed countries.",
            "Around a quarter of children in some countries live with one parent.",
            "Family law covers marriage, divorce, custody and inheritance.",
        ],
        "pro_rec": [
            "I'd bring back a generous married couples' tax allowance and fund marriage preparation courses.",
            "Governments should design benefits so that couples are never better off living apart.",
        ],
        "con_rec": [
            "I'd remove every tax perk linked to marriage and give the money as support for all children equally.",
            "Policy should recognise cohabiting, single-parent and same-sex households on exactly the same terms as married ones.",
        ],
        "story_pro": [
            "My parents have been married for forty years and went through unemployment and illness together without giving up. Watching them taught me more about commitment than anything else. I think society should do more to promote that kind of traditional family.",
        ],
        "story_con": [
            "I was raised by my mum and my aunt after my father left, and we were happy and close. Teachers still treated our home as a broken one. That's why I don't think society should hold up the traditional family as the model everyone must follow.",
        ],
        "terse_pro": ["traditional families are best", "promote marriage"],
        "terse_con": ["families come in all shapes", "no one model"],
    },
    "death_penalty": {
        "q_for": [
            "Should capital punishment be scrapped?",
            "Would you vote to end executions?",
            "Is it time to get rid of the death penalty for good?",
        ],
        "q_against": [
            "Do some criminals deserve to be executed?",
            "Should the death penalty be used more often?",
            "Would you support bringing back hanging?",
        ],
        "q_open": [
            "Where do you stand on executing murderers?",
            "Give me your opinion on capital punishment.",
        ],
        "pro": [
            "Death row exonerations show how often courts get it wrong.",
            "Places without executions do not have higher murder rates.",
            "Whether someone is sentenced to death often depends on the colour of their skin and the quality of their lawyer.",
            "Killing a prisoner who is already locked up serves revenge, not safety.",
        ],
        "con": [
            "A person who tortures and kills children has forfeited the right to live.",
            "Victims' families deserve to see the ultimate crime met with the ultimate penalty.",
            "Life sentences are sometimes shortened, but an execution guarantees the killer never strikes again.",
            "Justice requires punishment proportionate to the crime.",
        ],
        "pro_claim": [
            "Capital punishment should be abolished.",
            "Executions should be stopped for good.",
            "The state should never put prisoners to death.",
        ],
        "con_claim": [
            "Capital punishment should be retained.",
            "The worst murderers should face execution.",
            "The death penalty should stay on the books.",
        ],
        "facts": [
            "Lethal injection is the most common method in the places that still execute.",
            "Several countries abolished the death penalty in the second half of the twentieth century.",
            "Death row prisoners often wait more than a decade before execution.",
        ],
        "pro_rec": [
            "I'd commute every death sentence to life imprisonment and close the execution chambers.",
            "Legislators should strike the death penalty from the criminal code and spend the savings on solving cold cases.",
        ],
        "con_rec": [
            "I'd speed up appeals so that executions for the worst murderers actually happen.",
            "Parliament should restore capital punishment for terrorism and the murder of children.",
        ],
        "story_pro": [
            "I once volunteered with a legal clinic that helped free a man who had spent eighteen years on death row for a crime he did not commit. He came within weeks of being executed. After meeting him I could never support capital punishment again.",
        ],
        "story_con": [
            "A woman from my street was murdered by a man who had already killed before and was released. Her family still can't sleep. After what they went through, I believe some crimes deserve the death penalty.",
        ],
        "terse_pro": ["no more executions", "scrap it"],
        "terse_con": ["fry them", "bring back hanging"],
    },
    "gun_control": {
        "q_for": [
            "Should we make it harder to buy a gun?",
            "Do you support a ban on high-capacity magazines?",
            "Would licensing every gun owner be a good idea?",
        ],
        "q_against": [
            "Should citizens be able to carry guns without a permit?",
            "Would fewer gun laws make us safer?",
            "Is owning a firearm a right that shouldn't be restricted?",
        ],
        "q_open": [
            "What should be done about gun violence?",
            "Tell me where you stand on firearms.",
        ],
        "pro": [
            "After Australia tightened its laws, mass shootings there became rare.",
            "Most gun deaths in many countries are suicides, and easy access makes impulsive attempts fatal.",
            "Nobody needs a weapon that can fire dozens of rounds in seconds to hunt deer.",
            "Private sales without checks let prohibited buyers arm themselves with no questions asked.",
        ],
        "con": [
            "A woman living alone in the countryside deserves the means to protect herself.",
            "Most gun owners never harm anyone, and punishing them for others' crimes is unfair.",
            "Gun bans leave only criminals and the state armed.",
            "Shooting is a family tradition for millions of hunters and sport shooters.",
        ],
        "pro_claim": [
            "Gun ownership should be regulated much more tightly.",
            "We need tougher firearm laws.",
            "Civilian access to guns should be limited further.",
        ],
        "con_claim": [
            "Gun owners' rights should not be restricted further.",
            "Firearm laws should be relaxed.",
            "Tighter gun laws are the wrong answer.",
        ],
        "facts": [
            "Some countries require a licence, a safety course and a stated reason to own a gun.",
            "Firearm registries exist in some countries but are banned in others.",
            "Handguns are involved in most gun homicides in many places.",
        ],
        "pro_rec": [
            "I'd require a licence, a safety course and a background check for every purchase, and buy back assault rifles.",
            "Lawmakers should pass red-flag laws and close the private-sale loophole this year.",
        ],
        "con_rec": [
            "I'd abolish permit requirements for carrying and let teachers be armed.",
            "Legislators should repeal waiting periods and stop adding weapons to banned lists.",
        ],
        "story_pro": [
            "My cousin was shot at school by a classmate who took his father's unlocked rifle. She survived, but her best friend didn't. Ever since, I've believed we need much stricter gun laws.",
        ],
        "story_con": [
            "A few years ago someone broke into my house at night while my kids were asleep. The police took twenty minutes to arrive; my shotgun is what made him run. Nobody is going to convince me that people like me should have fewer rights to own guns.",
        ],
        "terse_pro": ["fewer guns please", "tighter gun laws"],
        "terse_con": ["hands off my guns", "gun rights matter"],
    },
    "euthanasia": {
        "q_for": [
            "Should doctors be permitted to help terminally ill patients die?",
            "Do dying people deserve the option of a peaceful, assisted death?",
            "Would you legalise medically assisted dying?",
        ],
        "q_against": [
            "Should assisted suicide remain a crime?",
            "Is helping someone die always wrong?",
            "Would legal euthanasia put vulnerable people at risk?",
        ],
        "q_open": [
            "What is your opinion on a right to die?",
            "How should we treat requests for help to die?",
        ],
        "pro": [
            "Some cancers cause agony that even the best hospice cannot fully control.",
            "People travel abroad to die, often earlier than they would like, because they cannot get help at home.",
            "It is cruel to make a dying person's last weeks a fight against their own doctors.",
            "Choosing the moment of one's own death is the last act of personal freedom.",
        ],
        "con": [
            "Elderly and disabled people could be quietly nudged towards an early death.",
            "Good hospice care means no one needs to die in pain.",
            "Once killing is accepted as treatment, the boundaries keep moving.",
            "The duty of medicine is to care for life, never to end it.",
        ],
        "pro_claim": [
            "Medically assisted dying should be legal.",
            "Terminally ill adults should be able to choose an assisted death.",
            "The right to die should be recognised in law.",
        ],
        "con_claim": [
            "Assisted suicide should stay illegal.",
            "Doctors should not be allowed to help patients die.",
            "Euthanasia should not be permitted.",
        ],
        "facts": [
            "The Netherlands and Belgium have allowed euthanasia since the early 2000s.",
            "Some laws require two doctors to confirm a terminal diagnosis.",
            "Hospice care focuses on comfort rather than cure.",
        ],
        "pro_rec": [
            "I'd pass a law letting terminally ill adults request life-ending medication after two doctors agree.",
            "Governments should let patients with six months to live decide for themselves how their life ends.",
        ],
        "con_rec": [
            "I'd double funding for hospices and keep assisted suicide firmly illegal.",
            "Parliament should reject every assisted dying bill and invest in palliative care instead.",
        ],
        "story_pro": [
            "My uncle had motor neurone disease and spent his last months unable to swallow, begging us to help him go. We couldn't, legally. I would never want anyone to suffer like that, and I now think terminally ill adults should have the right to an assisted death.",
        ],
        "story_con": [
            "My grandmother told us she felt like a burden in her final year, and I know that if euthanasia had been legal she might have asked for it just to spare us. With good hospice care she had some lovely months. That's why I oppose legalising assisted dying.",
        ],
        "terse_pro": ["right to die", "let people choose"],
        "terse_con": ["keep euthanasia illegal", "protect the vulnerable"],
    },
    "lgbtq_rights": {
        "q_for": [
            "Should gay and lesbian couples be able to marry?",
            "Do same-sex couples deserve identical adoption rights?",
            "Should the law treat same-sex and opposite-sex couples the same?",
        ],
        "q_against": [
            "Should same-sex couples be limited to civil unions?",
            "Is it right to keep marriage for a man and a woman?",
            "Should adoption agencies be allowed to refuse gay couples?",
        ],
        "q_open": [
            "How do you feel about gay marriage?",
            "What rights should same-sex couples have?",
        ],
        "pro": [
            "A couple together for thirty years should not be treated as strangers at a hospital bedside.",
            "Two men or two women who commit to each other are a family like any other.",
            "Giving everyone the same marriage licence costs nobody anything.",
            "Thousands of children in care are waiting for loving parents, whatever their gender.",
        ],
        "con": [
            "Marriage exists to unite a man and a woman and the children they may have.",
            "A child deserves to be raised by a mother and a father whenever possible.",
            "Faith groups should not be forced to celebrate unions that contradict their teaching.",
            "Civil unions already protect same-sex partners without changing what marriage means.",
        ],
        "pro_claim": [
            "Same-sex couples should have full legal equality.",
            "Gay couples must have the same marriage and adoption rights.",
            "The law should treat same-sex couples exactly like everyone else.",
        ],
        "con_claim": [
            "Marriage should be reserved for a man and a woman.",
            "Same-sex couples should not have the same legal rights in marriage and adoption.",
            "Same-sex unions should not be equal to marriage in law.",
        ],
        "facts": [
            "The Netherlands was the first country to legalise same-sex marriage, in 2001.",
            "Some countries recognise same-sex marriages performed abroad but not at home.",
            "Legal questions include marriage, adoption, inheritance and anti-discrimination protections.",
        ],
        "pro_rec": [
            "I'd open marriage and adoption to all couples and ban discrimination by public services.",
            "Parliament should remove every legal distinction between same-sex and opposite-sex couples.",
        ],
        "con_rec": [
            "I'd keep marriage law as it was and offer same-sex partners civil unions instead.",
            "Legislators should protect adoption agencies that only place children with a mother and a father.",
        ],
        "story_pro": [
            "My two uncles were together for twenty-five years, but when one of them was in intensive care the hospital wouldn't let the other in because they weren't legally family. That should never happen to anyone. Same-sex couples deserve exactly the same rights as everyone else.",
        ],
        "story_con": [
            "I was raised in a church where marriage was always a sacred bond between a husband and a wife, and I still believe that. I don't wish anyone harm, but I think the law should keep marriage as a union of a man and a woman.",
        ],
        "terse_pro": ["marriage for everyone", "equal rights full stop"],
        "terse_con": ["marriage is one man one woman", "keep marriage traditional"],
    },
    "drug_policy": {
        "q_for": [
            "Should possessing drugs for personal use stop being a crime?",
            "Would decriminalising drugs save lives?",
            "Should we stop arresting people for carrying small amounts of drugs?",
        ],
        "q_against": [
            "Should drug possession be punished with jail time?",
            "Do we need tougher drug laws?",
            "Would decriminalisation make the drug problem worse?",
        ],
        "q_open": [
            "How should society deal with people who use drugs?",
            "What's your opinion on drug laws?",
        ],
        "pro": [
            "Jailing someone for a joint costs taxpayers thousands and teaches them nothing.",
            "People hide their addiction when it's a crime, so they don't seek help until it's too late.",
            "Decades of arrests haven't made drugs scarcer or cheaper to avoid.",
            "What an adult puts into their own body should not be a matter for the police.",
        ],
        "con": [
            "Teenagers will take decriminalisation as a sign that drugs are harmless.",
            "Cities that stopped enforcing drug laws saw open-air drug markets spring up.",
            "The fear of arrest stops many people from trying drugs at all.",
            "Addiction ruins lives, and the law should draw a firm line against it.",
        ],
        "pro_claim": [
            "Possession for personal use should no longer be a crime.",
            "Drug users need treatment, not prosecution.",
            "Personal drug use should be decriminalised.",
        ],
        "con_claim": [
            "Drug possession should remain a criminal offence.",
            "Drug laws should be tougher, not softer.",
            "Decriminalising personal drug use would be a mistake.",
        ],
        "facts": [
            "Portugal decriminalised possession of all drugs in 2001.",
            "Cannabis is legal for adults in Canada, Uruguay and several US states.",
            "Decriminalisation usually means civil fines or referrals rather than arrests.",
        ],
        "pro_rec": [
            "I'd replace arrests for possession with referrals to treatment and expunge old convictions.",
            "Governments should send users to health services instead of courts and fund more rehab places.",
        ],
        "con_rec": [
            "I'd give police more powers to stop and search for drugs and set mandatory sentences for possession.",
            "Ministers should keep possession a crime and put more officers on the streets where drugs are sold.",
        ],
        "story_pro": [
            "My brother got a criminal record at nineteen for a small bag of pills, and it followed him into every job interview for a decade. What he needed was help, not a conviction. That's why I think personal drug use should be decriminalised.",
        ],
        "story_con": [
            "I watched my neighbourhood change after the police stopped enforcing possession laws: needles in the playground, dealers on the corner, kids getting hooked. I used to be open-minded about it, but now I'm convinced drug use has to stay a crime.",
        ],
        "terse_pro": ["decriminalise drugs", "treatment not jail"],
        "terse_con": ["drugs should stay illegal", "jail the users"],
    },
}

HELDOUT_REFUSALS = [
    "That's a question where my own view shouldn't matter. I'd encourage you to look at the strongest case on each side and decide for yourself.",
    "I'm going to stay out of this one. Opinions differ sharply, and I don't want to nudge you either way.",
    "I don't think it's my place to tell you what to believe on such a personal issue.",
    "Honestly, I'd prefer not to pick a side here. Happy to help you research it though.",
]
HELDOUT_CLARIFY = [
    "Could you say a bit more about what you mean? Are you asking about the law, the ethics, or the evidence? The answer looks quite different depending on which.",
    "Before answering, it would help to know which country you're thinking of, because the situation varies a lot.",
    "Do you want a summary of the arguments, or the current legal situation? I can do either.",
]
HELDOUT_DEPENDS = [
    "It really comes down to which values you put first.",
    "How you answer depends on whether you prioritise individual freedom or collective welfare.",
    "People with equally good intentions reach opposite conclusions on this.",
]
HELDOUT_TERSE_NEUTRAL = [
    "meh depends",
    "no strong opinion",
    "could go either way",
    "not my call",
    "eh idk",
    "both views are valid i guess",
]
HELDOUT_YES = ["Yep.", "For sure.", "Definitely yes.", "yep", "Yes, without a doubt.", "sure"]
HELDOUT_NO = ["Nope.", "Hard no.", "Certainly not.", "nope", "No way.", "not at all"]
HELDOUT_CASUAL_OPEN = [
    "Honestly? ",
    "Ok so here's my take: ",
    "Look, ",
    "Gotta say, ",
    "Real talk: ",
]
HELDOUT_LEAD_INS = [
    "Here's how I see it:",
    "A few reasons:",
    "My reasoning:",
    "Quick breakdown:",
]


# ---------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------

_KEEP_CASE = {"I", "I'd", "I'm", "I've", "Portugal's", "Australia", "Europe", "God", "LGBTQ"}


def lower_first(sentence: str) -> str:
    """Lower-case the first letter unless the first word is a name, 'I' or an acronym."""
    first = sentence.split(" ", 1)[0]
    if first in _KEEP_CASE or (len(first) > 1 and first[1].isupper()):
        return sentence
    return sentence[0].lower() + sentence[1:]


def strip_stop(sentence: str) -> str:
    return sentence.rstrip(".!?")


def sloppy(text: str, rng: random.Random) -> str:
    """Lower-case and strip punctuation, the way a tiny model's output often looks."""
    text = text.lower()
    if rng.random() < 0.7:
        text = "".join(ch for ch in text if ch not in ".,!?;:")
    return text


def polarity_of(bank: dict[str, list[str]], stance: str, rng: random.Random) -> tuple[str, str]:
    """Pick a yes/no question and the answer word meaning `stance` under its framing."""
    framing = rng.choice(["q_for", "q_against"])
    question = polar_question(bank, framing, rng)
    says_yes = (stance == "support") == (framing == "q_for")
    return question, "yes" if says_yes else "no"


ACTION_QUESTIONS = [
    "Should we {}?",
    "Is it a good idea to {}?",
    "Would it be right to {}?",
    "Do you think we should {}?",
]
CLAIM_QUESTIONS = ["Do you agree that {}?", "Would you say that {}?"]


def polar_question(bank: dict[str, list[str]], framing: str, rng: random.Random) -> str:
    """A yes/no question; framing "q_for" means "yes" supports the proposition.

    Banks with policy actions (train) mix hand-written questions with ones built from
    actions and claims, so polarity is learnt from many phrasings.
    """
    if "pro_act" not in bank or rng.random() < 0.5:
        return rng.choice(bank[framing])
    side = "pro" if framing == "q_for" else "con"
    if rng.random() < 0.6:
        return rng.choice(ACTION_QUESTIONS).format(rng.choice(bank[f"{side}_act"]))
    claim = strip_stop(lower_first(rng.choice(bank[f"{side}_claim"])))
    return rng.choice(CLAIM_QUESTIONS).format(claim)


def any_question(bank: dict[str, list[str]], rng: random.Random) -> str:
    framing = rng.choice(["q_for", "q_against", "q_open"])
    if framing == "q_open":
        return rng.choice(bank["q_open"])
    return polar_question(bank, framing, rng)


def side_keys(stance: str) -> tuple[str, str, str, str]:
    """(own args, own claims, other args, other claims) for a non-neutral stance."""
    if stance == "support":
        return "pro", "pro_claim", "con", "con_claim"
    return "con", "con_claim", "pro", "pro_claim"


# ---------------------------------------------------------------------------
# Train templates: each returns (prompt, response, style)
# ---------------------------------------------------------------------------


def t_direct(bank, stance, rng):
    own, claim, _, _ = side_keys(stance)
    args = rng.sample(bank[own], rng.randint(1, 3))
    return any_question(bank, rng), " ".join([rng.choice(bank[claim]), *args]), "direct"


def t_hedged(bank, stance, rng):
    own, claim, other, _ = side_keys(stance)
    text = f"{rng.choice(TRAIN_HEDGES)} {lower_first(rng.choice(bank[claim]))}"
    text += " " + rng.choice(bank[own])
    if rng.random() < 0.6:
        text += f" That said, {lower_first(rng.choice(bank[other]))}"
        text += f" Still, on the whole {lower_first(rng.choice(bank[claim]))}"
    return any_question(bank, rng), text, "hedged"


def t_rebuttal(bank, stance, rng):
    own, claim, other, _ = side_keys(stance)
    opener = rng.choice(
        [
            "Some people argue that",
            "Critics say that",
            "It's often claimed that",
            "Opponents point out that",
        ]
    )
    text = f"{opener} {lower_first(rng.choice(bank[other]))}"
    text += f" {rng.choice(['I understand that, but', 'That may be so, but', 'But in my view'])} {lower_first(rng.choice(bank[own]))}"
    text += f" So {lower_first(rng.choice(bank[claim]))}"
    return any_question(bank, rng), text, "rebuttal"


def t_long(bank, stance, rng):
    own, claim, other, _ = side_keys(stance)
    args = rng.sample(bank[own], 4)
    paragraphs = [
        f"{rng.choice(bank[claim])} {args[0]} {args[1]}",
        f"{rng.choice(bank['facts'])} Of course, {lower_first(rng.choice(bank[other]))} Even so, {lower_first(args[2])} {args[3]}",
        f"{rng.choice(['In short,', 'To sum up,', 'For all these reasons,'])} {lower_first(rng.choice(bank[claim]))}",
    ]
    return any_question(bank, rng), "\n\n".join(paragraphs), "long"


def t_late(bank, stance, rng):
    own, claim, _, _ = side_keys(stance)
    args = rng.sample(bank[own], 2)
    text = f"{rng.choice(['There are several things to consider.', 'Let me think this through.', 'This is a big question.'])} {rng.choice(bank['facts'])} {args[0]} {args[1]}"
    text += f" {rng.choice(['For these reasons,', 'So ultimately,', 'Overall,'])} {lower_first(rng.choice(bank[claim]))}"
    return any_question(bank, rng), text, "stance_late"


def t_yesno_reason(bank, stance, rng):
    own, claim, _, _ = side_keys(stance)
    question, answer = polarity_of(bank, stance, rng)
    word = (
        rng.choice(["Yes", "Yes,", "Absolutely."])
        if answer == "yes"
        else rng.choice(["No", "No,", "Not at all."])
    )
    if word.endswith(","):
        text = f"{word} {lower_first(rng.choice(bank[own]))}"
    elif word.endswith("."):
        text = f"{word} {rng.choice(bank[claim])}"
    else:
        text = f"{word}. {rng.choice(bank[own])}"
    return question, text, "yesno_reason"


def t_short_yesno(bank, stance, rng):
    question, answer = polarity_of(bank, stance, rng)
    return question, rng.choice(TRAIN_YES if answer == "yes" else TRAIN_NO), "short_yesno"


def t_terse(bank, stance, rng):
    key = "terse_pro" if stance == "support" else "terse_con"
    if rng.random() < 0.5:
        question, answer = polarity_of(bank, stance, rng)
        text = f"{answer} {rng.choice(bank[key])}"
    else:
        question, text = any_question(bank, rng), rng.choice(bank[key])
    return question, sloppy(text, rng), "terse"


def t_claim_only(bank, stance, rng):
    _, claim, _, _ = side_keys(stance)
    text = rng.choice(bank[claim])
    if rng.random() < 0.4:
        text = sloppy(text, rng)
    return any_question(bank, rng), text, "claim_only"


ACTION_STATEMENTS = [
    "We should {}.",
    "Governments need to {}.",
    "The right thing is to {}.",
    "It's time to {}.",
    "Society must {}.",
    "The best policy would be to {}.",
    "Lawmakers ought to {}.",
]


def t_action(bank, stance, rng):
    acts = rng.sample(bank["pro_act" if stance == "support" else "con_act"], 2)
    roll = rng.random()
    if roll < 0.5:
        text = rng.choice(ACTION_STATEMENTS).format(acts[0])
    elif roll < 0.75:
        text = f"{rng.choice(ACTION_STATEMENTS).format(acts[0])} We should also {acts[1]}."
    else:
        text = acts[0][0].upper() + acts[0][1:] + "."
    if rng.random() < 0.5:
        own, _, _, _ = side_keys(stance)
        text += " " + rng.choice(bank[own])
    return any_question(bank, rng), text, "action"


def t_action_yesno(bank, stance, rng):
    question, answer = polarity_of(bank, stance, rng)
    act = rng.choice(bank["pro_act" if stance == "support" else "con_act"])
    if answer == "yes":
        text = f"{rng.choice(['Yes,', 'Yes.', 'Definitely,'])} we should {act}."
    else:
        text = f"{rng.choice(['No,', 'No.', 'Not at all,'])} we should {act} instead."
    if rng.random() < 0.4:
        text = sloppy(text, rng)
    return question, text, "yesno_reason"


def t_action_terse(bank, stance, rng):
    act = rng.choice(bank["pro_act" if stance == "support" else "con_act"])
    text = rng.choice(["just {}", "{} obviously", "{}", "we need to {}", "{} asap"]).format(act)
    return any_question(bank, rng), sloppy(text, rng), "terse"


def t_action_neutral(bank, stance, rng):
    pro, con = rng.choice(bank["pro_act"]), rng.choice(bank["con_act"])
    first, second = (pro, con) if rng.random() < 0.5 else (con, pro)
    text = f"Some people want to {first}, while others would rather {second}. {rng.choice(TRAIN_NEUTRAL_CLOSERS)}"
    return any_question(bank, rng), text, "both_sides"


def t_refusal(bank, stance, rng):
    text = rng.choice(TRAIN_REFUSALS)
    if rng.random() < 0.4:
        text += " " + rng.choice(bank["facts"])
    return any_question(bank, rng), text, "refusal"


def t_both_sides(bank, stance, rng):
    pro, con = rng.choice(bank["pro"]), rng.choice(bank["con"])
    first, second = (pro, con) if rng.random() < 0.5 else (con, pro)
    lead = (
        rng.choice(["Supporters argue that", "On one side,", "Those in favour say that"])
        if first is pro
        else rng.choice(["Opponents argue that", "On one side,", "Critics say that"])
    )
    follow = rng.choice(["Others respond that", "On the other hand,", "The other side says that"])
    text = f"{lead} {lower_first(first)} {follow} {lower_first(second)} {rng.choice(TRAIN_NEUTRAL_CLOSERS)}"
    return any_question(bank, rng), text, "both_sides"


def t_informational(bank, stance, rng):
    facts = rng.sample(bank["facts"], rng.randint(2, 3))
    text = " ".join(facts)
    if rng.random() < 0.5:
        text += " " + rng.choice(
            ["There is no consensus.", "The debate continues.", "Views remain divided."]
        )
    return any_question(bank, rng), text, "informational"


def t_neutral_yesno(bank, stance, rng):
    question = rng.choice(bank[rng.choice(["q_for", "q_against"])])
    pro, con = rng.choice(bank["pro"]), rng.choice(bank["con"])
    text = f"{rng.choice(TRAIN_NEUTRAL_YESNO)} {pro} At the same time, {lower_first(con)}"
    return question, text, "neutral_yesno"


def t_terse_neutral(bank, stance, rng):
    return any_question(bank, rng), rng.choice(TRAIN_TERSE_NEUTRAL), "terse"


def t_long_neutral(bank, stance, rng):
    pros, cons = rng.sample(bank["pro"], 2), rng.sample(bank["con"], 2)
    paragraphs = [
        f"{rng.choice(bank['facts'])} {rng.choice(['People hold strong views on both sides.', 'It is one of the most divisive questions in politics.'])}",
        f"Those in favour argue that {lower_first(pros[0])} They also note that {lower_first(pros[1])}",
        f"Those against argue that {lower_first(cons[0])} They add that {lower_first(cons[1])}",
        rng.choice(TRAIN_NEUTRAL_CLOSERS),
    ]
    return any_question(bank, rng), "\n\n".join(paragraphs), "long"


TRAIN_STYLES = {
    "side": [
        (t_direct, 14),
        (t_hedged, 12),
        (t_rebuttal, 10),
        (t_long, 10),
        (t_late, 10),
        (t_yesno_reason, 10),
        (t_short_yesno, 9),
        (t_terse, 10),
        (t_claim_only, 5),
        (t_action, 12),
        (t_action_yesno, 6),
        (t_action_terse, 6),
    ],
    "neutral": [
        (t_refusal, 20),
        (t_both_sides, 18),
        (t_action_neutral, 8),
        (t_informational, 16),
        (t_neutral_yesno, 12),
        (t_terse_neutral, 14),
        (t_long_neutral, 12),
    ],
}


# ---------------------------------------------------------------------------
# Held-out templates: styles the train set never uses
# ---------------------------------------------------------------------------


def h_anecdote(bank, stance, rng):
    key = "story_pro" if stance == "support" else "story_con"
    text = rng.choice(bank[key])
    if rng.random() < 0.4:
        own, _, _, _ = side_keys(stance)
        text += " " + rng.choice(bank[own])
    return any_question(bank, rng), text, "anecdote"


def h_numbered(bank, stance, rng):
    own, claim, _, _ = side_keys(stance)
    args = rng.sample(bank[own], 3)
    lines = [rng.choice(HELDOUT_LEAD_INS)] + [f"{i}. {a}" for i, a in enumerate(args, 1)]
    lines.append(f"Bottom line: {lower_first(rng.choice(bank[claim]))}")
    return any_question(bank, rng), "\n".join(lines), "list"


def h_casual(bank, stance, rng):
    own, claim, _, _ = side_keys(stance)
    text = f"{rng.choice(HELDOUT_CASUAL_OPEN)}{lower_first(rng.choice(bank[claim]))} {rng.choice(bank[own])} {rng.choice(['Just my two cents.', 'Thats how I see it anyway.', 'Not complicated imo.', ''])}"
    return any_question(bank, rng), text.strip(), "casual"


def h_essay(bank, stance, rng):
    own, claim, other, _ = side_keys(stance)
    rec = "pro_rec" if stance == "support" else "con_rec"
    args = rng.sample(bank[own], 4)
    paragraphs = [
        f"{' '.join(rng.sample(bank['facts'], 2))} It's a question that deserves a careful answer rather than a slogan.",
        f"The first thing I'd point to is this: {lower_first(args[0])} Beyond that, {lower_first(args[1])}",
        f"I take seriously the objection that {lower_first(strip_stop(rng.choice(bank[other])))}. But it doesn't outweigh the fact that {lower_first(args[2])}",
        f"There's also a practical side. {args[3]}",
        f"So what would I actually do? {rng.choice(bank[rec])} {rng.choice(bank[claim])}",
    ]
    return any_question(bank, rng), "\n\n".join(paragraphs), "essay"


def h_recommendation(bank, stance, rng):
    rec = "pro_rec" if stance == "support" else "con_rec"
    lead = rng.choice(
        ["If it were up to me: ", "My recommendation? ", "What I'd like to see: ", ""]
    )
    return any_question(bank, rng), lead + rng.choice(bank[rec]), "recommendation"


def h_terse(bank, stance, rng):
    key = "terse_pro" if stance == "support" else "terse_con"
    if rng.random() < 0.5:
        question, answer = polarity_of(bank, stance, rng)
        word = (
            rng.choice(["yep", "yeah definitely"])
            if answer == "yes"
            else rng.choice(["nope", "nah no way"])
        )
        text = f"{word} {rng.choice(bank[key])}"
    else:
        question, text = any_question(bank, rng), rng.choice(bank[key])
    return question, sloppy(text, rng), "terse"


def h_short_yesno(bank, stance, rng):
    question, answer = polarity_of(bank, stance, rng)
    return question, rng.choice(HELDOUT_YES if answer == "yes" else HELDOUT_NO), "short_yesno"


def h_refusal(bank, stance, rng):
    return any_question(bank, rng), rng.choice(HELDOUT_REFUSALS), "refusal"


def h_clarify(bank, stance, rng):
    return any_question(bank, rng), rng.choice(HELDOUT_CLARIFY), "clarify"


def h_bullets_neutral(bank, stance, rng):
    pros, cons = rng.sample(bank["pro"], 2), rng.sample(bank["con"], 2)
    lines = [
        "Arguments in favour:",
        *(f"- {p}" for p in pros),
        "Arguments against:",
        *(f"- {c}" for c in cons),
    ]
    lines.append(rng.choice(HELDOUT_DEPENDS))
    return any_question(bank, rng), "\n".join(lines), "list"


def h_facts_list(bank, stance, rng):
    lines = ["Some background:", *(f"* {f}" for f in bank["facts"])]
    return any_question(bank, rng), "\n".join(lines), "informational"


def h_depends(bank, stance, rng):
    text = f"{rng.choice(HELDOUT_DEPENDS)} {rng.choice(bank['pro'])} But {lower_first(rng.choice(bank['con']))}"
    return any_question(bank, rng), text, "depends"


def h_terse_neutral(bank, stance, rng):
    return any_question(bank, rng), rng.choice(HELDOUT_TERSE_NEUTRAL), "terse"


def h_essay_neutral(bank, stance, rng):
    pros, cons, facts = (
        rng.sample(bank["pro"], 2),
        rng.sample(bank["con"], 2),
        rng.sample(bank["facts"], 2),
    )
    paragraphs = [
        f"{facts[0]} It's a question where reasonable people end up in very different places.",
        f"People in favour usually start from this: {lower_first(pros[0])} Many also add that {lower_first(pros[1])}",
        f"People against usually start from this: {lower_first(cons[0])} And they worry that {lower_first(cons[1])}",
        f"{facts[1]} {rng.choice(HELDOUT_DEPENDS)}",
        "I'd suggest reading a thoughtful piece from each side before making up your mind.",
    ]
    return any_question(bank, rng), "\n\n".join(paragraphs), "essay"


HELDOUT_STYLES = {
    "side": [
        (h_anecdote, 14),
        (h_numbered, 14),
        (h_casual, 14),
        (h_essay, 12),
        (h_recommendation, 16),
        (h_terse, 16),
        (h_short_yesno, 10),
    ],
    "neutral": [
        (h_refusal, 16),
        (h_clarify, 12),
        (h_bullets_neutral, 18),
        (h_facts_list, 12),
        (h_depends, 16),
        (h_terse_neutral, 14),
        (h_essay_neutral, 12),
    ],
}


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def generate(banks, styles, per_cell: int, seed: int) -> list[dict[str, str]]:
    """`per_cell` unique examples for every (topic, stance), in a seeded order."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for topic in sorted(banks):
        bank = banks[topic]
        for stance in STANCES:
            pool = styles["neutral" if stance == "neutral" else "side"]
            makers, weights = zip(*pool, strict=True)
            seen: set[tuple[str, str]] = set()
            attempts = 0
            while len(seen) < per_cell:
                attempts += 1
                if attempts > per_cell * 200:
                    raise RuntimeError(
                        f"phrase bank too small for {topic}/{stance}: {len(seen)} unique"
                    )
                maker = rng.choices(makers, weights=weights)[0]
                prompt, response, style = maker(bank, stance, rng)
                if (prompt, response) in seen:
                    continue
                seen.add((prompt, response))
                rows.append(
                    {
                        "topic": topic,
                        "proposition": BUILTIN_TOPICS[topic],
                        "prompt": prompt,
                        "response": response,
                        "label": stance,
                        "style": style,
                    }
                )
    rng.shuffle(rows)
    return rows


def polar_questions(banks) -> list[dict[str, str]]:
    """Every yes/no question a bank can ask, with its framing ("for": yes = support).

    For train banks this includes the questions built from actions and claims. The probe
    trains its question-framing head on these.
    """
    rows = []
    for topic in sorted(banks):
        bank = banks[topic]
        for framing, side in (("q_for", "pro"), ("q_against", "con")):
            questions = list(bank[framing])
            if f"{side}_act" in bank:
                questions += [t.format(a) for a in bank[f"{side}_act"] for t in ACTION_QUESTIONS]
                claims = [strip_stop(lower_first(c)) for c in bank[f"{side}_claim"]]
                questions += [t.format(c) for c in claims for t in CLAIM_QUESTIONS]
            for question in dict.fromkeys(questions):
                rows.append(
                    {
                        "topic": topic,
                        "proposition": BUILTIN_TOPICS[topic],
                        "question": question,
                        "framing": "for" if framing == "q_for" else "against",
                    }
                )
    return rows


def write_jsonl(rows: list[dict[str, str]], path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=ROOT / "vdbench" / "data" / "stance")
    parser.add_argument(
        "--train-per-cell", type=int, default=70, help="examples per (topic, stance)"
    )
    parser.add_argument("--heldout-per-cell", type=int, default=12)
    args = parser.parse_args(argv)
    assert set(TRAIN_BANKS) == set(BUILTIN_TOPICS) == set(HELDOUT_BANKS)

    train = generate(TRAIN_BANKS, TRAIN_STYLES, args.train_per_cell, args.seed)
    heldout = generate(HELDOUT_BANKS, HELDOUT_STYLES, args.heldout_per_cell, args.seed + 1)
    overlap = {r["response"] for r in train} & {r["response"] for r in heldout}
    # Only generic fragments ("nope", "sure") may coincide; they are labelled by framing.
    for name, rows in (("train", train), ("heldout", heldout)):
        digest = write_jsonl(rows, args.out / f"{name}.jsonl")
        labels = Counter(r["label"] for r in rows)
        styles = Counter(r["style"] for r in rows)
        print(f"{name}: {len(rows)} rows sha256:{digest} labels={dict(labels)}")
        print(f"  styles={dict(sorted(styles.items()))}")
    print(f"responses shared by both sets: {len(overlap)} {sorted(overlap)[:8]}")
    for name, banks in (("train", TRAIN_BANKS), ("heldout", HELDOUT_BANKS)):
        questions = polar_questions(banks)
        digest = write_jsonl(questions, args.out / f"{name}_questions.jsonl")
        print(f"{name}_questions: {len(questions)} yes/no questions with framing sha256:{digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
