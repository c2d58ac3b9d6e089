# language: da
Egenskab: CPR-numre kontrolleres efter CPR-kontorets regler
  Et CPR-nummer skrives DDMMÅÅ-XXXX. Århundredet følger af 7. ciffer og årstallet ÅÅ
  (CPR-kontorets tabel):
    7. ciffer 0-3: 1900-tallet.
    7. ciffer 4 eller 9: år 00-36 i 2000-tallet, år 37-99 i 1900-tallet.
    7. ciffer 5-8: år 00-57 i 2000-tallet, år 58-99 i 1800-tallet.

  Erstatningspersonnumre lægger 6 til dagens første ciffer (dag 61-91); de godtages og
  markeres, og fødselsdatoen er dagen minus 60. Der laves ingen modulus 11-kontrol, for
  numre udstedt efter 1. oktober 2007 består den ikke altid. En fødselsdato i fremtiden
  afvises. Numrene i eksemplerne er dannet af testen ud fra datodelen og 7. ciffer, og
  ingen af dem består modulus 11-kontrollen: de tilhører ikke en rigtig person.

  Baggrund:
    Givet dagen i dag er 1. december 2026

  Regel: Århundredet følger af 7. ciffer og årstallet

    Abstrakt Scenario: Datodel <datodel> og 7. ciffer <ciffer>
      Givet et dannet CPR-nummer med datodelen "<datodel>" og <ciffer> som 7. ciffer
      Når nummeret kontrolleres
      Så er nummeret gyldigt
      Og fødselsdatoen er <fødselsdato>

      Eksempler:
        | datodel | ciffer | fødselsdato       |
        | 030275  | 0      | 3. februar 1975   |
        | 030275  | 3      | 3. februar 1975   |
        | 150605  | 4      | 15. juni 2005     |
        | 150640  | 4      | 15. juni 1940     |
        | 150605  | 9      | 15. juni 2005     |
        | 150660  | 9      | 15. juni 1960     |
        | 010101  | 5      | 1. januar 2001    |
        | 311299  | 8      | 31. december 1899 |
        | 290296  | 2      | 29. februar 1996  |

  Regel: En fødselsdato i fremtiden afvises

    Abstrakt Scenario: <datodel> med 7. ciffer <ciffer> ligger i fremtiden
      Givet et dannet CPR-nummer med datodelen "<datodel>" og <ciffer> som 7. ciffer
      Når nummeret kontrolleres
      Så afvises nummeret, fordi fødselsdatoen ligger i fremtiden
      Og fejlbeskeden indeholder ikke nummeret

      Eksempler:
        | datodel | ciffer |
        | 020227  | 4      |
        | 010130  | 5      |
        | 010145  | 7      |

  Regel: Erstatningspersonnumre godtages og markeres

    Scenarie: Dag 72 betyder den 12.
      Givet et dannet CPR-nummer med datodelen "720375" og 2 som 7. ciffer
      Når nummeret kontrolleres
      Så er nummeret gyldigt
      Og nummeret er markeret som erstatningspersonnummer
      Og fødselsdatoen er 12. marts 1975

    Scenarie: Et almindeligt nummer er ikke et erstatningspersonnummer
      Givet et dannet CPR-nummer med datodelen "120375" og 2 som 7. ciffer
      Når nummeret kontrolleres
      Så er nummeret ikke markeret som erstatningspersonnummer

  Regel: Kun rigtige kalenderdatoer godtages

    Abstrakt Scenario: Datodelen <datodel> er ikke en dato
      Givet et dannet CPR-nummer med datodelen "<datodel>" og 1 som 7. ciffer
      Når nummeret kontrolleres
      Så afvises nummeret
      Og fejlbeskeden indeholder ikke nummeret

      Eksempler:
        | datodel |
        | 300275  |
        | 290275  |
        | 320175  |
        | 001075  |
        | 011375  |
        | 920175  |

  Regel: Køn følger af sidste ciffer, og der laves ingen modulus 11-kontrol

    Abstrakt Scenario: Sidste ciffer er <paritet>
      Givet et dannet CPR-nummer med datodelen "150675" og 1 som 7. ciffer, der slutter med et <paritet> ciffer
      Når nummeret kontrolleres
      Så er nummeret gyldigt
      Og nummeret består ikke modulus 11-kontrollen
      Og nummeret tilhører en <køn>

      Eksempler:
        | paritet | køn    |
        | ulige   | mand   |
        | lige    | kvinde |

    Scenarie: Nummeret kan skrives med eller uden bindestreg og med mellemrum
      Givet et dannet CPR-nummer med datodelen "150675" og 1 som 7. ciffer, skrevet uden bindestreg og med mellemrum
      Når nummeret kontrolleres
      Så er nummeret gyldigt
      Og fødselsdatoen er 15. juni 1975

  Regel: Fejlbeskeden siger, hvad der er galt, og nævner aldrig nummeret
    "Skriv det som DDMMÅÅ-XXXX" står kun, når selve skrivemåden er forkert.

    Scenarie: Et ciffer for lidt
      Givet et dannet CPR-nummer med datodelen "150675" og 1 som 7. ciffer, uden det sidste ciffer
      Når nummeret kontrolleres
      Så afvises nummeret med beskeden "CPR-nummeret skal have 10 cifre."
      Og fejlbeskeden indeholder ikke nummeret

    Scenarie: Bindestregen står et forkert sted
      Givet et dannet CPR-nummer med datodelen "150675" og 1 som 7. ciffer, skrevet med bindestregen et forkert sted
      Når nummeret kontrolleres
      Så afvises nummeret med beskeden "CPR-nummeret er ikke skrevet rigtigt. Skriv det som DDMMÅÅ-XXXX."

    Scenarie: Den 30. februar findes ikke
      Givet et dannet CPR-nummer med datodelen "300275" og 1 som 7. ciffer
      Når nummeret kontrolleres
      Så afvises nummeret med beskeden "Datoen i CPR-nummeret findes ikke."

    Scenarie: En fødselsdato i fremtiden
      Givet et dannet CPR-nummer med datodelen "020227" og 4 som 7. ciffer
      Når nummeret kontrolleres
      Så afvises nummeret med beskeden "Fødselsdatoen i CPR-nummeret ligger i fremtiden."
